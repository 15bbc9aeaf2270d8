"""Reads of the allowlist, its audit trail and sync state. Nothing here writes."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

from accesscontrol.edge import IP_VERSIONS, ip_set_name
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState, containing_q

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ORDERINGS: dict[str, list[str | OrderBy]] = {
    "label": ["label", "-created_at", "-id"],
    "-label": ["-label", "-created_at", "-id"],
    # Never-expiring entries last when soonest first, first when latest first.
    "expires_at": [F("expires_at").asc(nulls_last=True), "-id"],
    "-expires_at": [F("expires_at").desc(nulls_first=True), "-id"],
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
}


# What a list row needs, as plain values (`network_list(...).values_list(*NETWORK_ROW)`): a
# page is read as tuples, without building model instances.
NETWORK_ROW = (
    "id",
    "cidr",
    "ip_version",
    "label",
    "note",
    "expires_at",
    "source",
    "created_by__username",
    "created_at",
    "updated_at",
    "needs_review",
    "range_start",
    "range_end",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def search_network(term: str) -> Network | None:
    """The network (an address is its /32 or /128) a search term names, as WAF would judge
    it (an IPv4-mapped IPv6 address is its IPv4 address); None when the term is not one."""
    try:
        network = ipaddress.ip_network(term.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.scope_id:
        return None  # a zone id is local to one host: WAF never sees one
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def network_list(
    *,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
    contains: Network | None = None,
) -> QuerySet[AllowedNetwork]:
    """The allowlist filtered and sorted. `contains`: only networks that contain this
    address or network (equal or wider), found through the bounds index."""
    networks = AllowedNetwork.objects.select_related("created_by")
    if contains is not None:
        networks = networks.filter(containing_q(contains))
    if needs_review is not None:
        networks = networks.filter(needs_review=needs_review)
    if status == AllowedNetwork.Status.ACTIVE:
        networks = networks.active()
    elif status == AllowedNetwork.Status.EXPIRED:
        networks = networks.expired()
    if search and search.strip():
        term = search.strip()
        matches = Q(cidr__icontains=term) | Q(label__icontains=term) | Q(note__icontains=term)
        # An address (or network) also finds the entries that contain it: "which entry
        # lets this address in?"
        searched = search_network(term)
        if searched is not None:
            matches |= containing_q(searched)
        networks = networks.filter(matches)
    return networks.order_by(*ORDERINGS.get(ordering or "-created_at", ORDERINGS["-created_at"]))


def _supernets(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    """The network itself and every wider network containing it, as stored strings."""
    return [str(network.supernet(new_prefix=p)) for p in range(network.prefixlen, 0, -1)]


def networks_containing(cidr: str, *, exclude_self: bool = True) -> list[AllowedNetwork]:
    """Active networks equal to or wider than `cidr` (most specific first). One indexed
    query: the candidate supernets are few (at most 128)."""
    network = ipaddress.ip_network(cidr)
    candidates = _supernets(network)
    if exclude_self:
        candidates = candidates[1:]
    if not candidates:
        return []
    found = list(AllowedNetwork.objects.active().filter(cidr__in=candidates))
    return sorted(found, key=lambda n: ipaddress.ip_network(n.cidr).prefixlen, reverse=True)


def networks_covering(
    *, ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> list[AllowedNetwork]:
    """Active networks that contain the address `ip` (most specific first; none for no
    address or a string that is not one)."""
    if ip is None:
        return []
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return []
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return networks_containing(str(ipaddress.ip_network(address)), exclude_self=False)


def sync_state(version: int) -> IpSetSyncState:
    """One IP set's sync state. Its row comes from migration 0005 (and every sync writes
    it back); a database emptied since (a test's flush) reads as a set never synced."""
    state = IpSetSyncState.objects.filter(ip_version=version).first()
    return state or IpSetSyncState(
        ip_version=version, name=ip_set_name(settings.GATEHOUSE_EDGE_NAME, version)
    )


def sync_states() -> list[IpSetSyncState]:
    """Both IP sets' sync states, by IP version (see `sync_state`)."""
    states = {s.ip_version: s for s in IpSetSyncState.objects.all()}
    return [states.get(version) or sync_state(version) for version in IP_VERSIONS]


def unapplied_changes(state: IpSetSyncState) -> dict[str, list[str]]:
    """What the allowlist wants in the set but the last sync did not write: addresses to
    add and to remove, e.g. a temporary entry that expired since (WAF still lets it in
    until the next sync removes it). Empty when the set holds what is desired."""
    if state.last_synced_at is None:
        return {"to_add": [], "to_remove": []}
    desired = set(
        AllowedNetwork.objects.active()
        .filter(ip_version=state.ip_version)
        .values_list("cidr", flat=True)
    )
    applied = set(state.last_applied or [])
    return {"to_add": sorted(desired - applied), "to_remove": sorted(applied - desired)}


def audit_events(
    *,
    action: str | None = None,
    actor: str | User | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_sign_ins: bool = True,
) -> QuerySet[AuditEvent]:
    """Newest first; `since` inclusive, `until` exclusive. `include_sign_ins=False` hides
    auth.* events (who tried to sign in, from where): only superusers see those."""
    events = AuditEvent.objects.all()
    if not include_sign_ins:
        events = events.exclude(action__startswith="auth.")
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    if action:
        events = events.filter(action=action)
    if actor is not None and actor != "":
        if isinstance(actor, str):
            events = events.filter(actor_name=actor)
        else:
            events = events.filter(actor=actor)
    return events.order_by("-created_at", "-id")
