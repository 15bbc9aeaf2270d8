"""The WAF sync: projects the allowlist into the two WAF IP sets.

A three-way merge per IP set: desired = active networks, current = WAF, last applied =
what we last wrote (stored in the set's `IpSetSyncState`). Addresses in WAF that we never
wrote pass the same input rules as a change without a superuser (public ranges, widest
prefix, 10,000 per set): those that pass are adopted as `adopted` networks marked for
review, the rest are refused (audited, reported as drift, and removed from WAF); then
desired is written with the set's lock token. A dry run computes the same plan and writes
nothing, to WAF or to the database.

Syncs of one IP version are serialised by a row lock on its IpSetSyncState, so a waiter
that finds WAF already matching skips its write: bursts coalesce. A change syncs after its
transaction commits, so a WAF failure never loses it: the sync state says pending and the
next sync converges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accesscontrol import metrics, selectors
from accesscontrol.audit import Requester, audit_event, network_snapshot
from accesscontrol.edge import IP_VERSIONS, ip_set_name
from accesscontrol.exceptions import WafSyncError
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from accesscontrol.validation import MAX_ACTIVE_PER_VERSION, check_network_policy, parse_network
from accesscontrol.waf import IpSetSnapshot, WafIpSetGateway

log = logging.getLogger(__name__)

# A sync.apply event lists at most this many addresses per kind (with the full counts):
# each address change has its own event already (allow/revoke/adopt/expire), and a first
# sync of 10,000 entries should not write a 10,000-entry audit record.
AUDIT_LIST_LIMIT = 100
SyncStatus = IpSetSyncState.Status


class ChangeSyncStatus(StrEnum):
    """What a change's sync did: WAF holds it, or it will (the change is saved either way)."""

    APPLIED = "applied"
    PENDING = "pending"


@dataclass(frozen=True, kw_only=True)
class SyncOutcome:
    status: ChangeSyncStatus
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class SetSyncResult:
    name: str
    ip_version: int
    status: SyncStatus
    to_add: list[str] = field(default_factory=list)
    to_remove: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    wrote: bool = False
    error: str = ""
    removed_outside: list[str] = field(default_factory=list)
    # Outside additions that failed the input rules: address -> why (removed from WAF).
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    sets: list[SetSyncResult]
    dry_run: bool = False

    @property
    def in_sync(self) -> bool:
        return all(s.status == SyncStatus.IN_SYNC for s in self.sets)


def lock_sync_states(versions: tuple[int, ...] = IP_VERSIONS) -> dict[int, IpSetSyncState]:
    """Lock the sync-state rows of `versions`, in IP-version order (so two lockers never
    deadlock), inside the caller's transaction. The rows come from migration 0005; a row
    missing since (a test's flush) is created here, locked by its insert."""
    states = {
        s.ip_version: s
        for s in IpSetSyncState.objects.select_for_update()
        .filter(ip_version__in=versions)
        .order_by("ip_version")
    }
    for version in versions:
        if version not in states:
            try:
                with transaction.atomic():
                    states[version] = IpSetSyncState.objects.create(
                        ip_version=version,
                        name=ip_set_name(settings.GATEHOUSE_EDGE_NAME, version),
                    )
            except IntegrityError:  # created concurrently
                states[version] = IpSetSyncState.objects.select_for_update().get(ip_version=version)
    return states


def _in_callers_transaction() -> bool:
    """True inside a caller's atomic block (the change is not committed yet). The atomic
    blocks a Django TestCase opens around a test do not count, as for `durable=True`."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and not all(
        getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
    )


def sync_after_change(
    *, versions: tuple[int, ...], requester: Requester, gateway: WafIpSetGateway | None
) -> SyncOutcome:
    """Sync what the change touched; its audit events name who made the change."""
    if _in_callers_transaction():
        transaction.on_commit(
            lambda: _sync(versions=versions, requester=requester, gateway=gateway)
        )
        return SyncOutcome(
            status=ChangeSyncStatus.PENDING,
            reason="WAF is updated when the surrounding transaction commits.",
        )
    report = _sync(versions=versions, requester=requester, gateway=gateway)
    problems = [s for s in report.sets if s.status != SyncStatus.IN_SYNC]
    if problems:
        return SyncOutcome(
            status=ChangeSyncStatus.PENDING,
            reason="Saved; WAF not updated yet: "
            + " ".join(s.error for s in problems)
            + " The next sync retries.",
        )
    return SyncOutcome(status=ChangeSyncStatus.APPLIED)


def sync_waf_ip_sets(
    *,
    requester: Requester | None = None,
    dry_run: bool = False,
    gateway: WafIpSetGateway | None = None,
) -> SyncReport:
    """Sync both IP sets (or, with dry_run, only plan: no WAF write, no DB write)."""
    return _sync(versions=IP_VERSIONS, requester=requester, gateway=gateway, dry_run=dry_run)


def _sync(
    *,
    versions: tuple[int, ...],
    requester: Requester | None,
    gateway: WafIpSetGateway | None,
    dry_run: bool = False,
) -> SyncReport:
    gateway = gateway or WafIpSetGateway.from_settings()
    results = [
        _sync_set(version, requester=requester, gateway=gateway, dry_run=dry_run)
        for version in versions
    ]
    if not dry_run:
        for result in results:
            metrics.sync_result(result.ip_version, str(result.status))
    return SyncReport(sets=results, dry_run=dry_run)


@dataclass
class _Merge:
    """One set's three-way merge, recomputed for each WAF read."""

    desired: set[str]
    last_applied: set[str]
    adopted: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)
    to_remove: list[str] = field(default_factory=list)
    removed_outside: list[str] = field(default_factory=list)
    known_elsewhere: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    ordered: list[str] = field(default_factory=list)

    def outside_additions(self, current: frozenset[str]) -> set[str]:
        return set(current) - self.last_applied - self.desired

    def finish(self, current: frozenset[str]) -> list[str]:
        """The addresses to write, sorted once (filtering keeps the order: no re-sorts of
        up to 10,000 addresses)."""
        self.ordered = sorted(self.desired)
        self.to_add = [a for a in self.ordered if a not in current]
        self.to_remove = sorted(current - self.desired)
        self.removed_outside = [
            a for a in self.ordered if a in self.last_applied and a not in current
        ]
        return self.ordered

    @property
    def changed(self) -> bool:
        return bool(self.to_add or self.to_remove or self.adopted)

    def drift(self) -> dict[str, Any]:
        drift: dict[str, Any] = {}
        if self.adopted or self.known_elsewhere or self.refused:
            drift["added_outside"] = sorted(
                set(self.adopted) | set(self.known_elsewhere) | self.refused.keys()
            )
        if self.refused:
            drift["refused_outside"] = dict(sorted(self.refused.items()))
        if self.removed_outside:
            drift["removed_outside"] = self.removed_outside
        return drift


def _active_cidrs(version: int, now: datetime) -> set[str]:
    return set(
        AllowedNetwork.objects.active(at=now)
        .filter(ip_version=version)
        .values_list("cidr", flat=True)
    )


def _split_outside(outside: set[str]) -> tuple[list[str], list[str]]:
    """Outside additions -> (to adopt, already known to the database, e.g. expired)."""
    if not outside:
        return [], []
    known = set(AllowedNetwork.objects.filter(cidr__in=outside).values_list("cidr", flat=True))
    return sorted(outside - known), sorted(outside & known)


def _screen_outside(
    cidrs: list[str], *, version: int, room: int
) -> tuple[list[str], dict[str, str]]:
    """Outside additions -> (to adopt, refused with why). They pass the input rules as a
    change without a superuser would (adoption has no requester), and at most `room` of
    them fit under WAF's limit; the rest are refused, never adopted."""
    adopt: list[str] = []
    refused: dict[str, str] = {}
    for cidr in cidrs:
        try:
            network = parse_network(cidr)
            check_network_policy(network, is_superuser=False)
        except ValidationError as exc:
            refused[cidr] = "Not adopted: " + " ".join(exc.messages)
            continue
        if len(adopt) >= room:
            refused[cidr] = (
                f"Not adopted: the IPv{version} allowlist already holds "
                f"{MAX_ACTIVE_PER_VERSION:,} active networks, WAF's limit per IP set."
            )
            continue
        adopt.append(cidr)
    return adopt, refused


def _record_refusals(refused: dict[str, str], set_name: str, requester: Requester | None) -> None:
    AuditEvent.objects.bulk_create(
        [
            audit_event(
                requester=requester,
                action="network.adopt_refused",
                subject=cidr,
                reason=f"Found in {set_name}, added outside Gatehouse; removed from WAF. " + why,
            )
            for cidr, why in refused.items()
        ],
        batch_size=500,
    )
    log.warning(
        "Refused and removed %d address(es) added to %s outside Gatehouse: %s",
        len(refused),
        set_name,
        refused,
    )


def _failure_status(exc: WafSyncError) -> SyncStatus:
    return SyncStatus.PENDING if exc.transient else SyncStatus.FAILED


def _adopt(cidrs: list[str], version: int, set_name: str, requester: Requester | None) -> None:
    now = timezone.now()
    networks = [
        AllowedNetwork(
            cidr=cidr,
            ip_version=version,
            label="Adopted from WAF",
            note=f"Found in WAF IP set {set_name} on {now:%Y-%m-%d %H:%M} UTC, added "
            "outside Gatehouse.",
            source=AllowedNetwork.Source.ADOPTED,
            needs_review=True,
        )
        for cidr in cidrs
    ]
    AllowedNetwork.objects.bulk_create(networks, batch_size=500)
    AuditEvent.objects.bulk_create(
        [
            audit_event(
                requester=requester,
                action="network.adopt",
                subject=n.cidr,
                after=network_snapshot(n),
                reason=f"Present in {set_name} but never written by Gatehouse.",
            )
            for n in networks
        ],
        batch_size=500,
    )
    log.warning("Adopted %d address(es) added to %s outside Gatehouse", len(cidrs), set_name)


def _record_expiries(version: int, now: datetime, requester: Requester | None) -> None:
    """Each expired network gets one "network.expire" event, once it is out of WAF."""
    expired = list(
        AllowedNetwork.objects.expired(at=now).filter(
            ip_version=version, expiry_recorded_at__isnull=True
        )
    )
    if not expired:
        return
    AuditEvent.objects.bulk_create(
        [
            audit_event(
                requester=requester,
                action="network.expire",
                subject=n.cidr,
                before=network_snapshot(n),
                # expired() only returns networks with an expiry
                reason=f"Expired at {cast(datetime, n.expires_at).isoformat()}; removed from WAF.",
            )
            for n in expired
        ],
        batch_size=500,
    )
    AllowedNetwork.objects.filter(pk__in=[n.pk for n in expired]).update(expiry_recorded_at=now)


def _record_failure(
    state: IpSetSyncState, exc: WafSyncError, status: SyncStatus, requester: Requester | None
) -> None:
    """The set's state says why it is not in sync; a new failure is audited once."""
    if state.status != status or state.last_error != str(exc):
        AuditEvent.objects.bulk_create(
            [
                audit_event(
                    requester=requester, action="sync.fail", subject=state.name, reason=str(exc)
                )
            ]
        )
    state.status, state.last_error = status, str(exc)
    state.save(
        update_fields=["name", "ip_set_id", "last_applied", "status", "last_error", "updated_at"]
    )


def _sync_set(
    version: int,
    *,
    requester: Requester | None,
    gateway: WafIpSetGateway,
    dry_run: bool = False,
) -> SetSyncResult:
    """Sync one set, or with `dry_run` only plan it: the same merge, no write to WAF or to
    the database (nothing adopted, refused, recorded or locked)."""
    name = gateway.names[version]
    with transaction.atomic():
        # The lock serialises syncs of this set across processes; waiters then see WAF
        # current. A dry run only reads.
        state = selectors.sync_state(version) if dry_run else lock_sync_states((version,))[version]
        if state.name != name:  # the edge was renamed: what we applied was another set
            state.name, state.ip_set_id, state.last_applied = name, "", []
        gateway.remember_id(version, state.ip_set_id)
        now = timezone.now()
        merge = _Merge(desired=_active_cidrs(version, now), last_applied=set(state.last_applied))

        def plan(snapshot: IpSetSnapshot) -> list[str]:
            # Refused addresses stay out of desired, so the write removes them from WAF;
            # each is recorded once per sync, however often a lock conflict re-plans.
            outside = merge.outside_additions(snapshot.addresses) - merge.refused.keys()
            candidates, known = _split_outside(outside)
            # Under this set's lock, as every addition is: desired is all that is active.
            to_adopt, refused = _screen_outside(
                candidates, version=version, room=MAX_ACTIVE_PER_VERSION - len(merge.desired)
            )
            if refused and not dry_run:
                _record_refusals(refused, name, requester)
            if to_adopt and not dry_run:
                _adopt(to_adopt, version, name, requester)
            merge.refused.update(refused)
            merge.adopted.extend(to_adopt)
            merge.desired |= set(to_adopt)
            merge.known_elsewhere = known
            return merge.finish(snapshot.addresses)

        try:
            if dry_run:
                plan(gateway.read(version, known=merge.desired | merge.last_applied))
            else:
                result = gateway.apply(version, plan, known=merge.desired | merge.last_applied)
        except WafSyncError as exc:
            status = _failure_status(exc)
            if not dry_run:
                _record_failure(state, exc, status, requester)
            return SetSyncResult(
                name=name,
                ip_version=version,
                status=status,
                error=str(exc),
                to_add=merge.to_add,
                to_remove=merge.to_remove,
                adopted=merge.adopted,
                refused=merge.refused,
            )
        if dry_run:
            return SetSyncResult(
                name=name,
                ip_version=version,
                status=SyncStatus.PENDING if merge.changed else SyncStatus.IN_SYNC,
                to_add=merge.to_add,
                to_remove=merge.to_remove,
                adopted=merge.adopted,
                removed_outside=merge.removed_outside,
                refused=merge.refused,
            )

        if merge.removed_outside:
            log.warning("%s: %s removed outside Gatehouse; restored", name, merge.removed_outside)
        fields = ["name", "ip_set_id", "last_synced_at", "status", "last_error", "drift"]
        if state.last_applied != merge.ordered:  # skip rewriting 10,000 unchanged entries
            state.last_applied = merge.ordered
            fields.append("last_applied")
        state.ip_set_id = result.snapshot.id
        state.last_synced_at = now
        state.status = SyncStatus.IN_SYNC
        state.last_error = ""
        state.drift = merge.drift()
        state.save(update_fields=[*fields, "updated_at"])
        if result.wrote:
            AuditEvent.objects.bulk_create(
                [
                    audit_event(
                        requester=requester,
                        action="sync.apply",
                        subject=name,
                        after={
                            "added_count": len(merge.to_add),
                            "removed_count": len(merge.to_remove),
                            "added": merge.to_add[:AUDIT_LIST_LIMIT],
                            "removed": merge.to_remove[:AUDIT_LIST_LIMIT],
                            "removed_outside": merge.removed_outside[:AUDIT_LIST_LIMIT],
                        },
                        reason=f"{len(merge.desired)} address(es) in {name}.",
                    )
                ]
            )
        _record_expiries(version, now, requester)
    return SetSyncResult(
        name=name,
        ip_version=version,
        status=SyncStatus.IN_SYNC,
        to_add=merge.to_add if result.wrote else [],
        to_remove=merge.to_remove if result.wrote else [],
        adopted=merge.adopted,
        wrote=result.wrote,
        removed_outside=merge.removed_outside,
        refused=merge.refused,
    )


def forget_applied_state() -> None:
    """The IP sets were created afresh and empty (the local stack's AWS stand-in keeps
    nothing between runs): what we last applied, and the set ids, belong to sets that no
    longer exist. Forgetting them makes the next sync project the database into the new
    sets as a first sync would, without reporting the empty sets as drift."""
    IpSetSyncState.objects.update(
        ip_set_id="",
        last_applied=[],
        drift={},
        status=SyncStatus.PENDING,
        last_error="",
    )
