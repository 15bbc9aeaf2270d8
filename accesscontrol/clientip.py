"""Who is the viewer: the one place that decides a request's client address.

WAF judges the address CloudFront saw, so Django must use that same address:

- "cloudfront" mode (production): `CloudFront-Viewer-Address` (`ip:port`; IPv6 is not
  bracketed, so split on the last colon), trusted only when the request passed the
  origin-secret check (`request.origin_verified`). Otherwise `X-Forwarded-For` second
  from the right: CloudFront appends the viewer, then the ALB appends the edge server.
  Never the left-most entry: the client writes that one.
- "direct" mode (no proxy in front): `REMOTE_ADDR`.

Whatever cannot be parsed as an address falls back to `REMOTE_ADDR`.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _parse_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _from_viewer_address(header: str) -> str | None:
    host, sep, port = header.strip().rpartition(":")
    if not sep or not port.isdigit():
        return None
    return _parse_ip(host)


def _from_forwarded_for(header: str) -> str | None:
    hops = [hop.strip() for hop in header.split(",")]
    if len(hops) < 2:
        return None
    return _parse_ip(hops[-2])


def viewer_ip(request: HttpRequest) -> str:
    """The address WAF judged for this request, as a normalised string."""
    remote = _parse_ip(request.META.get("REMOTE_ADDR", "")) or "0.0.0.0"  # noqa: S104
    if settings.GATEHOUSE_CLIENT_IP_SOURCE == "direct":
        return remote
    if getattr(request, "origin_verified", False):
        viewer = _from_viewer_address(request.META.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS", ""))
        if viewer:
            return viewer
    return _from_forwarded_for(request.META.get("HTTP_X_FORWARDED_FOR", "")) or remote
