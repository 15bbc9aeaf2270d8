"""Who is the viewer: the one place that decides a request's client address.

WAF judges the address CloudFront saw, so Django must use that same address:

- "cloudfront" mode (production): only a request that passed the origin-secret check
  (`request.origin_verified`) came through CloudFront, so only then are proxy headers
  believed: `CloudFront-Viewer-Address` (`ip:port`; IPv6 is not bracketed, so split on the
  last colon), else `X-Forwarded-For` second from the right (CloudFront appends the viewer,
  then the ALB appends the edge server; never the left-most entry, which the client
  writes). A request without a matching secret came from somewhere else (another host in
  the VPC): its headers are the client's own, so the viewer is `REMOTE_ADDR`.
- "direct" mode (no proxy in front): `REMOTE_ADDR`.

Whatever cannot be parsed as an address falls back to `REMOTE_ADDR`. A scoped IPv6
address (`fe80::1%eth0`) is never a viewer address: WAF never sees a zone id. The viewer is
resolved once per request (`viewer_address`, memoised on the Django request) and kept
parsed: everything downstream (api.requester, the allowlist middleware, the services'
self-lockout guard) uses that one `ipaddress` object.

`lockout_key` is the address django-axes counts sign-in failures against: the viewer's
IPv4 address, or the /64 its IPv6 address belongs to (one subscriber gets a whole /64 and
can rotate through it freely).
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MEMO = "_gatehouse_viewer"


def _parse_ip(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.version == 6 and address.scope_id is not None:
        return None
    return address


def _from_viewer_address(header: str) -> Address | None:
    host, sep, port = header.strip().rpartition(":")
    if not sep or not port.isdigit():
        return None
    return _parse_ip(host)


def _from_forwarded_for(header: str) -> Address | None:
    hops = [hop.strip() for hop in header.split(",")]
    if len(hops) < 2:
        return None
    return _parse_ip(hops[-2])


def viewer_address(request: HttpRequest) -> Address:
    """The address WAF judged for this request, resolved once per request (DRF's Request
    shares the memo of the Django request it wraps)."""
    request = getattr(request, "_request", request)
    address = getattr(request, _MEMO, None)
    if address is None:
        address = _resolve(request)
        setattr(request, _MEMO, address)
    return address


def viewer_ip(request: HttpRequest) -> str:
    """The viewer's address as a normalised string (for response bodies)."""
    return str(viewer_address(request))


def _resolve(request: HttpRequest) -> Address:
    remote = _parse_ip(request.META.get("REMOTE_ADDR", "")) or ipaddress.IPv4Address(0)
    if settings.GATEHOUSE_CLIENT_IP_SOURCE == "direct":
        return remote
    if not getattr(request, "origin_verified", False):
        return remote
    viewer = _from_viewer_address(request.META.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS", ""))
    if viewer:
        return viewer
    return _from_forwarded_for(request.META.get("HTTP_X_FORWARDED_FOR", "")) or remote


LOCKOUT_PREFIX_V6 = 64


def lockout_key(request: HttpRequest) -> str:
    """What sign-in failures are counted against: the IPv4 address, or the IPv6 /64's
    network address (a plain address, so axes stores it like any other)."""
    viewer = viewer_address(request)
    if viewer.version == 6 and not viewer.ipv4_mapped:
        network = ipaddress.ip_network(f"{viewer}/{LOCKOUT_PREFIX_V6}", strict=False)
        return str(network.network_address)
    return str(viewer)


def _covering_candidates(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """Every network string (as AllowedNetwork stores them) that contains `address`: /32
    (/128) down to /1, built with integer masks (ipaddress.supernet is ten times slower)."""
    bits = address.max_prefixlen
    ones = (1 << bits) - 1
    value = int(address)
    kind = type(address)
    return [
        f"{kind(value & (ones ^ ((1 << (bits - prefix)) - 1)))}/{prefix}"
        for prefix in range(bits, 0, -1)
    ]


def as_waf_sees(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is (networks are stored so)."""
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def viewer_is_allowed(address: Address) -> bool:
    """Whether an active allowlist network covers `address`: one query on the unique cidr
    index."""
    from accesscontrol.models import AllowedNetwork  # clientip loads before the app registry

    candidates = _covering_candidates(as_waf_sees(address))
    return AllowedNetwork.objects.active().filter(cidr__in=candidates).exists()
