"""Input rules for the allowlist, on the standard `ipaddress` module (no hand parsing).

Every refusal is a `ValidationError` keyed by field, with a message that says what to do
instead. `parse_network` returns the normalised network; `str()` of it is the one form
stored in the database and written to WAF (IPv6 compressed, lower case).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_INPUT_LENGTH = 100  # longest sensible CIDR is ~43 characters
MAX_ACTIVE_PER_VERSION = 10_000  # WAF's limit of addresses per IP set
LABEL_MAX = 100
NOTE_MAX = 1000
MAX_TTL_HOURS = 24 * 366  # temporary access: at most a year (leap year included)

# Addresses production accepts (documentation ranges are refused there); yours differ.
EXAMPLES = "like 81.2.69.160, 81.2.69.0/24 or 2a00:1450:4009::/48 (use your own)"

# Ranges CloudFront never reports as a viewer address (IANA special-purpose registries).
_SPECIAL_V4 = [
    ("0.0.0.0/8", "the unspecified 'this network' range"),
    ("10.0.0.0/8", "a private range"),
    ("100.64.0.0/10", "the carrier-grade NAT shared range"),
    ("127.0.0.0/8", "the loopback range"),
    ("169.254.0.0/16", "the link-local range"),
    ("172.16.0.0/12", "a private range"),
    ("192.0.0.0/24", "the reserved IETF protocol range"),
    ("192.0.2.0/24", "a reserved documentation range"),
    ("192.88.99.0/24", "a reserved relay range"),
    ("192.168.0.0/16", "a private range"),
    ("198.18.0.0/15", "the reserved benchmarking range"),
    ("198.51.100.0/24", "a reserved documentation range"),
    ("203.0.113.0/24", "a reserved documentation range"),
    ("224.0.0.0/4", "the multicast range"),
    ("240.0.0.0/4", "the reserved range"),
]
_SPECIAL_V6 = [
    ("::/128", "the unspecified address"),
    ("::1/128", "the loopback address"),
    ("64:ff9b:1::/48", "the local-use translation range"),
    ("100::/64", "the discard-only range"),
    ("2001::/23", "the reserved IETF protocol range"),
    ("2001:db8::/32", "a reserved documentation range"),
    ("3fff::/20", "a reserved documentation range"),
    ("fc00::/7", "the unique-local (private) range"),
    ("fe80::/10", "the link-local range"),
    ("ff00::/8", "the multicast range"),
]
_SPECIAL = {
    4: [(ipaddress.ip_network(net), why) for net, why in _SPECIAL_V4],
    6: [(ipaddress.ip_network(net), why) for net, why in _SPECIAL_V6],
}
# The same ranges as integer spans: a bulk import checks 10,000 networks against all of
# them, and comparing two integers is ~10x cheaper than `IPv4Network.overlaps`.
_SPECIAL_SPANS = {
    version: [
        (int(special.network_address), int(special.broadcast_address), special, why)
        for special, why in specials
    ]
    for version, specials in _SPECIAL.items()
}
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def parse_network(raw: object) -> Network:
    """Syntax only: a bare address becomes /32 or /128; host bits, /0, zone ids and
    IPv4-mapped IPv6 are refused. No policy (private ranges, prefix width) here."""
    if not isinstance(raw, str):
        raise _error("cidr", f"Enter an IP address or network as text, {EXAMPLES}.", "invalid")
    value = raw.strip()
    if not value:
        raise _error("cidr", f"Enter an IP address or network, {EXAMPLES}.", "required")
    if len(value) > MAX_INPUT_LENGTH:
        raise _error(
            "cidr",
            f"That is {len(value)} characters, too long for an IP network; enter one "
            f"network {EXAMPLES}.",
            "too_long",
        )
    if "%" in value:
        raise _error(
            "cidr",
            "Zone ids (the '%' part, e.g. fe80::1%eth0) only mean something on one "
            "machine; enter the address without it.",
            "zone_id",
        )
    address_part, slash, prefix_part = value.partition("/")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        network = None
    if network is None:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            loose = None
        if loose is not None:
            raise _error(
                "cidr",
                f"{value} has host bits set: the network containing it is {loose}. "
                f"Enter {loose}, or {address_part}/{loose.max_prefixlen} for the single "
                "address.",
                "host_bits",
            ) from None
        try:
            address = ipaddress.ip_address(address_part)
        except ValueError:
            address = None
        if address is not None and slash:
            raise _error(
                "cidr",
                f"The prefix length must be a number from 1 to {address.max_prefixlen} "
                f"for IPv{address.version}; '{prefix_part}' is not.",
                "prefix_range",
            )
        raise _error(
            "cidr",
            f"'{value[:60]}' is not an IP address or network; enter one {EXAMPLES}.",
            "invalid",
        )
    if network.prefixlen == 0:
        raise _error(
            "cidr",
            f"{network} is the whole IPv{network.version} internet, which would switch "
            "the allowlist off; WAF refuses /0 too. Enter a narrower network.",
            "whole_internet",
        )
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED):
        v4 = ipaddress.ip_network(
            (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
        )
        raise _error(
            "cidr",
            f"{network} is an IPv4-mapped IPv6 network; CloudFront reports such viewers "
            f"by their IPv4 address, so enter {v4} instead.",
            "ipv4_mapped",
        )
    return network


def check_network_policy(network: Network, *, is_superuser: bool) -> None:
    """Refuse ranges CloudFront never sees (unless allowed) and, for non-superusers,
    prefixes wider than the configured minimum."""
    if not settings.GATEHOUSE_ALLOW_PRIVATE_RANGES:
        first, last = int(network.network_address), int(network.broadcast_address)
        for start, end, special, why in _SPECIAL_SPANS[network.version]:
            if first <= end and start <= last:  # the two ranges overlap
                raise _error(
                    "cidr",
                    f"{network} is in or overlaps {special}, {why}. CloudFront only sees "
                    "public viewer addresses; enter the office's public address (the "
                    "console's header shows it as 'Your IP').",
                    "not_public",
                )
        if isinstance(network, ipaddress.IPv6Network) and not network.subnet_of(_GLOBAL_UNICAST_V6):
            raise _error(
                "cidr",
                f"{network} is outside 2000::/3, the only public IPv6 unicast range; "
                "enter the office's public IPv6 network.",
                "not_public",
            )
    minimum = (
        settings.GATEHOUSE_MIN_PREFIX_V4
        if network.version == 4
        else settings.GATEHOUSE_MIN_PREFIX_V6
    )
    if network.prefixlen < minimum and not is_superuser:
        raise _error(
            "cidr",
            f"{network} is wider than /{minimum}, the widest IPv{network.version} network "
            "an editor may add. Ask a superuser, or add narrower networks.",
            "too_wide",
        )


def clean_label(raw: object) -> str:
    label = raw.strip() if isinstance(raw, str) else ""
    if not label:
        raise _error(
            "label", "Give the network a label saying whose it is, e.g. 'Head office'.", "required"
        )
    if len(label) > LABEL_MAX:
        raise _error(
            "label",
            f"Keep the label to {LABEL_MAX} characters (it has {len(label)}); "
            "longer details go in the note.",
            "too_long",
        )
    return label


def clean_note(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _error("note", "The note must be text.", "invalid")
    note = raw.strip()
    if len(note) > NOTE_MAX:
        raise _error(
            "note", f"Keep the note to {NOTE_MAX} characters (it has {len(note)}).", "too_long"
        )
    return note


def clean_expires_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise _error("expires_at", "The expiry must be a date and time.", "invalid")
    if timezone.is_naive(value):
        raise _error("expires_at", "Give the expiry with a time zone, e.g. in UTC.", "naive")
    if value <= timezone.now():
        raise _error(
            "expires_at",
            "The expiry must be in the future; to remove access now, remove the network.",
            "past",
        )
    return value
