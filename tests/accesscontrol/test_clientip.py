"""Viewer IP resolution: table-driven, spoofed headers included."""

import pytest
from django.test import RequestFactory

from accesscontrol.clientip import viewer_ip

ALB = "10.0.0.5"


def make_request(headers: dict[str, str], *, verified: bool, remote: str = ALB):
    request = RequestFactory().get("/api/me", REMOTE_ADDR=remote, headers=headers)
    request.origin_verified = verified
    return request


@pytest.mark.parametrize(
    ("headers", "verified", "expected"),
    [
        # Through the edge: CloudFront's header wins.
        ({"CloudFront-Viewer-Address": "203.0.113.7:51234"}, True, "203.0.113.7"),
        # IPv6 is not bracketed: split on the last colon.
        ({"CloudFront-Viewer-Address": "2001:db8::1:443"}, True, "2001:db8::1"),
        (
            {"CloudFront-Viewer-Address": "2001:0db8:0000::0001:50000"},
            True,
            "2001:db8::1",
        ),
        # Not verified: a client-sent CloudFront header is ignored; XFF 2nd from right.
        (
            {
                "CloudFront-Viewer-Address": "198.51.100.99:1",
                "X-Forwarded-For": "203.0.113.7, 130.176.1.1",
            },
            False,
            "203.0.113.7",
        ),
        # Spoofed left-most XFF entries never count.
        (
            {"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 130.176.1.1"},
            False,
            "203.0.113.7",
        ),
        ({"X-Forwarded-For": "1.2.3.4,203.0.113.8,130.176.1.1"}, True, "203.0.113.8"),
        # One hop only (not through CloudFront + ALB): fall back to REMOTE_ADDR.
        ({"X-Forwarded-For": "1.2.3.4"}, False, ALB),
        # Garbage falls back too.
        ({"X-Forwarded-For": "evil, <script>, 130.176.1.1"}, False, ALB),
        ({"CloudFront-Viewer-Address": "not-an-ip:80"}, True, ALB),
        ({"CloudFront-Viewer-Address": "203.0.113.7"}, True, ALB),
        ({}, False, ALB),
    ],
)
def test_cloudfront_mode(settings, headers, verified, expected):
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "cloudfront"
    assert viewer_ip(make_request(headers, verified=verified)) == expected


def test_direct_mode_uses_remote_addr_and_ignores_headers(settings):
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "direct"
    headers = {
        "CloudFront-Viewer-Address": "203.0.113.7:1",
        "X-Forwarded-For": "1.2.3.4, 5.6.7.8",
    }
    assert viewer_ip(make_request(headers, verified=True, remote="127.0.0.1")) == "127.0.0.1"
