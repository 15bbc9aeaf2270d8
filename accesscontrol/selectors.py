"""Reads of the allowlist, its audit trail and sync state (no writes but the lazily
created sync-state rows)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from accesscontrol.waf import IP_VERSIONS, ip_set_names


def network_list(
    *, status: str | None = None, search: str | None = None, needs_review: bool | None = None
) -> QuerySet:
    networks = AllowedNetwork.objects.select_related("created_by")
    if needs_review is not None:
        networks = networks.filter(needs_review=needs_review)
    if status == "active":
        networks = networks.active()
    elif status == "expired":
        networks = networks.expired()
    if search and search.strip():
        term = search.strip()
        networks = networks.filter(
            Q(cidr__icontains=term) | Q(label__icontains=term) | Q(note__icontains=term)
        )
    return networks.order_by("-created_at", "-id")


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


def networks_covering(*, ip: str) -> list[AllowedNetwork]:
    """Active networks that contain the address `ip` (most specific first)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return []
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return networks_containing(str(ipaddress.ip_network(address)), exclude_self=False)


def sync_states() -> list[IpSetSyncState]:
    """Both sync-state rows (created on first use, named after the configured edge)."""
    names = ip_set_names(settings.GATEHOUSE_EDGE_NAME)
    states = {s.ip_version: s for s in IpSetSyncState.objects.all()}
    for version in IP_VERSIONS:
        if version not in states:
            try:
                with transaction.atomic():
                    states[version] = IpSetSyncState.objects.create(
                        ip_version=version, name=names[version]
                    )
            except IntegrityError:  # created concurrently
                states[version] = IpSetSyncState.objects.get(ip_version=version)
    return [states[v] for v in IP_VERSIONS]


def audit_events(
    *, action: str | None = None, actor: object = None, include_sign_ins: bool = True
) -> QuerySet:
    """`include_sign_ins=False` hides auth.* events (who tried to sign in, from where):
    only superusers see those."""
    events = AuditEvent.objects.all()
    if not include_sign_ins:
        events = events.exclude(action__startswith="auth.")
    if action:
        events = events.filter(action=action)
    if actor is not None and actor != "":
        if isinstance(actor, str):
            events = events.filter(actor_name=actor)
        else:
            events = events.filter(actor=actor)
    return events.order_by("-created_at", "-id")
