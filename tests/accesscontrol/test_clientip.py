"""Viewer IP resolution: table-driven, spoofed headers included."""

import pytest
from django.test import RequestFactory

from accesscontrol.clientip import lockout_key, viewer_ip

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
        # Not verified (no secret matched): no proxy header is believed, the client wrote
        # them all; the viewer is the peer.
        (
            {
                "CloudFront-Viewer-Address": "198.51.100.99:1",
                "X-Forwarded-For": "203.0.113.7, 130.176.1.1",
            },
            False,
            ALB,
        ),
        ({"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 130.176.1.1"}, False, ALB),
        # Verified without CloudFront's header: XFF second from the right; spoofed
        # left-most entries never count.
        ({"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 130.176.1.1"}, True, "203.0.113.7"),
        ({"X-Forwarded-For": "1.2.3.4,203.0.113.8,130.176.1.1"}, True, "203.0.113.8"),
        # One hop only (not through CloudFront + ALB): fall back to REMOTE_ADDR.
        ({"X-Forwarded-For": "1.2.3.4"}, True, ALB),
        # Garbage falls back too.
        ({"X-Forwarded-For": "evil, <script>, 130.176.1.1"}, True, ALB),
        ({"CloudFront-Viewer-Address": "not-an-ip:80"}, True, ALB),
        ({"CloudFront-Viewer-Address": "203.0.113.7"}, True, ALB),
        # A zone id is never a viewer address (WAF never sees one).
        ({"CloudFront-Viewer-Address": "fe80::1%eth0:443"}, True, ALB),
        ({"X-Forwarded-For": "fe80::1%eth0, 130.176.1.1"}, True, ALB),
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


def test_scoped_ipv6_peer_is_never_the_viewer(settings):
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "direct"
    assert viewer_ip(make_request({}, verified=False, remote="fe80::1%eth0")) == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize(
    ("viewer", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("2001:db8:1:3::1", "2001:db8:1:3::"),
    ],
)
def test_lockout_key_is_the_ipv4_address_or_the_ipv6_slash_64(settings, viewer, key):
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "direct"
    assert lockout_key(make_request({}, verified=False, remote=viewer)) == key
