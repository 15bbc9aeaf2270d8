"""Reads of the allowlist, its audit trail and sync state. Nothing here writes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

from accesscontrol.edge import IP_VERSIONS, ip_set_name
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState, containing_q

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from accesscontrol.waf import WafWebAclGateway

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


# -- recently blocked ----------------------------------------------------------------------

BLOCKED_PATHS_SHOWN = 10  # distinct paths kept per address (the newest)
BLOCKED_PATH_CHARS = 200  # a path longer than this is cut (WAF samples carry the raw URI)


@dataclass
class BlockedAddress:
    """One address the web ACL's default action blocked, from WAF's sampled requests."""

    address: str
    count: int  # the sum of the samples' weights: roughly how many requests
    first_seen: datetime | None
    last_seen: datetime | None
    country: str  # of the newest sample ("" when WAF gave none)
    paths: list[str] = field(default_factory=list)  # distinct, newest first, bounded
    more_paths: int = 0  # distinct paths beyond `paths`
    allowed_now: bool = False  # an active network covers it since
    _seen_paths: set[str] = field(default_factory=set, repr=False)


@dataclass(frozen=True)
class BlockedReport:
    addresses: list[BlockedAddress]
    since: datetime
    until: datetime
    sampled: int  # samples read
    population_size: int  # requests WAF drew them from
    sampling_enabled: bool


def _covered(addresses: list[str]) -> set[str]:
    """Which of `addresses` an active network covers now (one query)."""
    if not addresses:
        return set()
    active = set(AllowedNetwork.objects.active().values_list("cidr", flat=True))
    covered = set()
    for text in addresses:
        try:
            host = ipaddress.ip_network(text)
        except ValueError:
            continue
        if any(cidr in active for cidr in _supernets(host)):
            covered.add(text)
    return covered


def recently_blocked(*, gateway: WafWebAclGateway | None = None) -> BlockedReport:
    """Addresses the web ACL blocked by its default action in the last three hours (WAF's
    sample: at most 500 requests), aggregated per address, newest first. Raises
    WafReadError when WAF cannot be read."""
    from accesscontrol.waf import WafWebAclGateway

    gateway = gateway or WafWebAclGateway.from_settings()
    sample = gateway.sampled_requests()
    by_address: dict[str, BlockedAddress] = {}
    # Newest first, so each address's country and first paths are its latest.
    ordered = sorted(
        (r for r in sample.requests if r.action.upper() == "BLOCK"),
        key=lambda r: r.timestamp or sample.start,
        reverse=True,
    )
    for request in ordered:
        try:
            address = str(ipaddress.ip_address(request.client_ip.strip()))
        except ValueError:
            continue  # WAF always gives one; nothing to show or allow without it
        entry = by_address.get(address)
        if entry is None:
            entry = by_address[address] = BlockedAddress(
                address=address,
                count=0,
                first_seen=request.timestamp,
                last_seen=request.timestamp,
                country=request.country if request.country not in ("", "-", "--") else "",
            )
        entry.count += max(request.weight, 0)
        if request.timestamp is not None:
            entry.first_seen = min(entry.first_seen or request.timestamp, request.timestamp)
        path = request.uri[:BLOCKED_PATH_CHARS]
        if path and path not in entry._seen_paths:
            entry._seen_paths.add(path)
            if len(entry.paths) < BLOCKED_PATHS_SHOWN:
                entry.paths.append(path)
            else:
                entry.more_paths += 1
    covered = _covered(list(by_address))
    for entry in by_address.values():
        entry.allowed_now = entry.address in covered
    return BlockedReport(
        addresses=list(by_address.values()),  # insertion order: newest last_seen first
        since=sample.start,
        until=sample.end,
        sampled=len(sample.requests),
        population_size=sample.population_size,
        sampling_enabled=sample.web_acl.sampling_enabled,
    )


@dataclass(frozen=True)
class Readiness:
    """Whether this instance should get traffic, and why not (`problems`, stable codes
    plus a sentence each). `sets`: per IP version, its status and how long it has been
    waiting for a successful sync (seconds, when pending or failed)."""

    ready: bool
    problems: list[dict[str, str]]
    sets: dict[str, dict[str, Any]]


def readiness(*, now: datetime, pending_limit: timedelta) -> Readiness:
    """One query: the database answers, and each IP set is in sync, or pending (a change
    not yet in WAF, the sync retrying) for less than `pending_limit` since its last
    successful sync (or, never synced, since its state last changed). A failed set (WAF
    refused for a reason retrying will not fix) is not ready."""
    try:
        states = {s.ip_version: s for s in IpSetSyncState.objects.all()}
    except DatabaseError:
        problem = {"code": "database_unreachable", "message": "The database did not answer."}
        return Readiness(ready=False, problems=[problem], sets={})
    problems: list[dict[str, str]] = []
    sets: dict[str, dict[str, Any]] = {}
    for version in IP_VERSIONS:
        state = states.get(version)
        if state is None:
            problems.append(
                {"code": "sync_state_missing", "message": f"IPv{version}: no sync state row."}
            )
            continue
        entry: dict[str, Any] = {"name": state.name, "status": state.status}
        sets[f"v{version}"] = entry
        if state.status == IpSetSyncState.Status.IN_SYNC:
            continue
        since: datetime | None = state.last_synced_at or state.updated_at
        waiting = max((now - since).total_seconds(), 0.0) if since is not None else None
        entry["pending_seconds"] = None if waiting is None else round(waiting)
        if state.status == IpSetSyncState.Status.FAILED:
            problems.append(
                {"code": "sync_failed", "message": f"{state.name}: the last sync failed."}
            )
        elif waiting is None or waiting >= pending_limit.total_seconds():
            limit = round(pending_limit.total_seconds())
            problems.append(
                {
                    "code": "sync_pending_too_long",
                    "message": f"{state.name}: not synced for {limit} s or more.",
                }
            )
    return Readiness(ready=not problems, problems=problems, sets=sets)
