"""The edge contract: what the app (`api/`, `accesscontrol/`) and the edge (`deploy/`)
must agree on, defined once.

CloudFront adds the origin header, the ALB's listener rule demands it and the app checks
it; the target group probes the health path the app answers first; the ALB's fixed
response and the app's middleware refuse with the same body; provisioning creates the
WAF IP sets and web ACL under the names the app later finds them by. No Django imports:
`deploy/` uses this module without settings.
"""

from __future__ import annotations

import json
from typing import Final

# CloudFront sends it on every origin request to the ALB; the value is a rotating secret.
ORIGIN_HEADER = "X-Origin-Verify"

# Answered before host validation and the database (ALB checks use the target's IP).
HEALTH_PATH = "/api/health"
HEALTH_BODY = b'{"message":"This is /api/health"}\n'

# What the ALB (no secret header) and the app (wrong secret) answer.
ORIGIN_FORBIDDEN_CODE = "origin_forbidden"
ORIGIN_FORBIDDEN_MESSAGE = "Requests must come through the CloudFront edge."
ORIGIN_FORBIDDEN_BODY = json.dumps(
    {"error": {"code": ORIGIN_FORBIDDEN_CODE, "message": ORIGIN_FORBIDDEN_MESSAGE, "fields": {}}}
)

# WAF for CloudFront is global: this scope, always in us-east-1.
WAF_SCOPE: Final = "CLOUDFRONT"
WAF_REGION = "us-east-1"
IP_VERSIONS = (4, 6)


def ip_set_name(edge_name: str, version: int) -> str:
    """The office IP set of an edge for one IP version (4 or 6)."""
    return f"{edge_name}-office-v{version}"


def ip_set_names(edge_name: str) -> dict[int, str]:
    """The office IP set names of an edge, by IP version."""
    return {version: ip_set_name(edge_name, version) for version in IP_VERSIONS}


def web_acl_name(edge_name: str) -> str:
    return f"{edge_name}-edge"
