"""Reads of the allowlist, its audit trail and sync state. Nothing here writes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

from accesscontrol.edge import IP_VERSIONS, ip_set_name
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState

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


def network_list(
    *,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
) -> QuerySet[AllowedNetwork]:
    networks = AllowedNetwork.objects.select_related("created_by")
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
        try:
            searched = ipaddress.ip_network(term, strict=False)
        except ValueError:
            searched = None
        if searched is not None:
            matches |= Q(cidr__in=[str(searched), *_supernets(searched)])
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
