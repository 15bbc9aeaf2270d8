"""The security headers the edge adds to every response, in one place.

CloudFront adds them through a response headers policy on both behaviours (deploy/
cloudfront.py builds the policy from this dict); the local edge can import the same dict
to send the same headers. Values only: no AWS, no Django.

The console is same-origin, static ES modules with no inline script, so CSP can be tight.
`frame-ancestors 'none'` and X-Frame-Options DENY stop it being framed (clickjacking).
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS_MAX_AGE = 63_072_000  # two years, as hstspreload.org asks

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE}; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
