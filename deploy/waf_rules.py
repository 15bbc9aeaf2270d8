"""The web ACL's access-link rules and the block page's text: what `deploy.waf` adds when
the edge config turns access links on (`[access_links] enabled = true`).

Two rules, ahead of the allowlist rule (WAF stops at the first terminating match):

1. `access-links-rate`: block (429) an address that sent more than `RATE_LIMIT` requests
   to the access path within `RATE_WINDOW_SECONDS`: guessing tokens is pointless (256
   bits), but the path is open to the world, so nobody may hammer it.
2. `access-links-open`: allow every request whose URI path, lowercased, starts with
   `/api/access/`. Django serves only the redeem page and its POST there and refuses the
   rest (method, path shape, body size, its own per-address throttle).

Shapes follow botocore's wafv2 model (the conformance guard checks every request):
`RateLimit` is at least 10, `EvaluationWindowSec` one of 60/120/300/600, `SearchString`
a blob (WAF gives bytes back), `MetricName` matches `^[\\w#:\\.\\-/]+$`.
"""

from __future__ import annotations

import html
from typing import Any

ACCESS_PATH = "/api/access/"
RATE_RULE_NAME = "access-links-rate"
OPEN_RULE_NAME = "access-links-open"
RATE_LIMIT = 50
RATE_WINDOW_SECONDS = 300
RATE_LIMITED_STATUS = 429
ACCESS_LINK_HINT = "An administrator can also send you an access link that lets your address in."


def visibility(metric: str) -> dict[str, Any]:
    return {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": metric,
    }


def access_path_statement() -> dict[str, Any]:
    """URI path, lowercased, starts with /api/access/ (as bytes: WAF returns a blob)."""
    return {
        "ByteMatchStatement": {
            "SearchString": ACCESS_PATH.encode(),
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
            "PositionalConstraint": "STARTS_WITH",
        }
    }


def access_link_rules(metric_prefix: str, *, first_priority: int) -> list[dict[str, Any]]:
    """The rate-based rule, then the allow rule, at `first_priority` and the next one."""
    return [
        {
            "Name": RATE_RULE_NAME,
            "Priority": first_priority,
            "Action": {"Block": {"CustomResponse": {"ResponseCode": RATE_LIMITED_STATUS}}},
            "Statement": {
                "RateBasedStatement": {
                    "Limit": RATE_LIMIT,
                    "EvaluationWindowSec": RATE_WINDOW_SECONDS,
                    "AggregateKeyType": "IP",
                    "ScopeDownStatement": access_path_statement(),
                }
            },
            "VisibilityConfig": visibility(f"{metric_prefix}accesslinksrate"),
        },
        {
            "Name": OPEN_RULE_NAME,
            "Priority": first_priority + 1,
            "Action": {"Allow": {}},
            "Statement": access_path_statement(),
            "VisibilityConfig": visibility(f"{metric_prefix}accesslinksopen"),
        },
    ]


def block_page(message: str, contact: str = "", *, access_links: bool = False) -> str:
    """The static page WAF answers blocked viewers with (it cannot insert their address)."""
    extra = ""
    if contact or access_links:
        lines = " ".join(
            part for part in (contact, ACCESS_LINK_HINT if access_links else "") if part
        )
        extra = f"<p>{html.escape(lines)}</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Access denied</title></head><body><h1>Access denied</h1>"
        f"<p>{html.escape(message)}</p>{extra}</body></html>"
    )
