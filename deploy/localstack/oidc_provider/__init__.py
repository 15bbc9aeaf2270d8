"""A development OpenID provider for the local stack and the tests (never production).

django-oauth-toolkit's OpenID Connect provider (authorization code flow, PKCE required,
RS256 ID tokens, discovery, JWKS, RP-initiated logout) in its own Django settings module
(`settings`), run as a separate process on loopback by `python -m
deploy.localstack.oidc_provider` (runlocal starts it; so do the tests). It keeps its own
SQLite file and RSA key in its data directory, and on every start makes the demo users
(`DEMO_USERS`), their groups and the Gatehouse client application.

Invariant: nothing Gatehouse serves imports this package: adminsite.settings does not
install it, and django-oauth-toolkit is a development dependency only.
"""

from __future__ import annotations

from dataclasses import dataclass

ISSUER_PATH = "/o"  # the issuer is http://127.0.0.1:<port>/o
DEMO_PASSWORD = "gatehouse-demo"  # noqa: S105 - printed in runlocal's banner on purpose
CLIENT_ID = "gatehouse-local"
# Registered callback and post-logout URIs: loopback, so any port matches (RFC 8252 7.3,
# which django-oauth-toolkit follows): the local edge's, or a test server's.
REDIRECT_URI = "http://127.0.0.1/api/auth/oidc/callback"
POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1/"
# Gatehouse's GATEHOUSE_OIDC_ROLE_MAP for these groups.
ROLE_MAP = "gatehouse-editors=editor,gatehouse-viewers=viewer,gatehouse-admins=superuser"
SCOPES = "openid email profile groups"


@dataclass(frozen=True)
class DemoUser:
    username: str
    email: str
    groups: tuple[str, ...]
    what: str  # for the banner and the README


DEMO_USERS = (
    DemoUser("alice", "alice@example.com", ("gatehouse-editors",), "editor"),
    DemoUser("bob", "bob@example.com", ("gatehouse-viewers",), "viewer"),
    DemoUser("carol", "carol@example.com", ("staff",), "no mapped group: no role"),
    DemoUser("dave", "dave@example.com", ("gatehouse-admins",), "superuser"),
    DemoUser(
        "mallory", "mallory@example.org", ("gatehouse-editors",), "refused: outside example.com"
    ),
)
ALLOWED_EMAIL_DOMAINS = "example.com"
