"""The WAF sync: projects the allowlist into the two WAF IP sets.

A three-way merge per IP set: desired = active networks, current = WAF, last applied =
what we last wrote (stored in the set's `IpSetSyncState`). Addresses in WAF that we never
wrote pass the same input rules as a change without a superuser (public ranges, widest
prefix, 10,000 per set): those that pass are adopted as `adopted` networks marked for
review, the rest are refused (audited, reported as drift, and removed from WAF); then
desired is written with the set's lock token. A dry run computes the same plan and writes
nothing, to WAF or to the database.

Group commit. A change to a set's addresses moves the set's `desired_generation` on in the
change's own transaction (under the allowlist lock). A sync round reads WAF first, without
any lock, then takes the set's row lock, reads desired and its generation G (every change
up to G has committed and is in desired), writes once, and records `applied_generation =
G`. After its commit a change waits, bounded by GATEHOUSE_SYNC_WAIT_SECONDS, until
`applied_generation` covers its generation: it runs the round itself when it wins the
set's syncer lease (one conditional UPDATE), else it waits for the round to end. A waiter
covered by someone else's round answers "applied" without calling WAF; one that times out
answers "pending". Waiting holds no transaction and no lock, only the round does (as every
sync does). On PostgreSQL a waiter sleeps in LISTEN and a round's end wakes it (NOTIFY),
with a short fallback poll; on SQLite (one machine, the local stack) it polls the row.
The lease is a row, not a PostgreSQL advisory lock, so both databases share one design.

Nothing is lost whoever dies: the change and its generation commit before any WAF call;
a round that dies before its commit records nothing, so applied stays behind desired and
the next round (a waiter once the dead holder's lease expires, the next change, or the
scheduled sync, which needs no lease) re-reads WAF and writes what is missing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
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


# A round longer than this lets another request start one too: harmless (rounds serialise
# on the row lock, and the second finds WAF right), so it only bounds how long a holder
# that died (a killed worker) keeps waiters from taking over.
SYNCER_LEASE = timedelta(seconds=10)
# SQLite: how often a waiter looks whether a round covered its change (one row read).
POLL_SECONDS = 0.02
# PostgreSQL: waiters sleep in LISTEN and a round's end wakes them (NOTIFY); they look
# anyway this often, for a lease that expired (its holder died) or a missed wake-up.
NOTIFY_FALLBACK_SECONDS = 0.1
NOTIFY_CHANNEL = "gatehouse_waf_sync"
_clock = time.monotonic


def mark_desired(version: int) -> int:
    """Inside a change's transaction: the set's desired state moves on. Returns the
    generation a sync must cover for WAF to hold the change (it commits with the change)."""
    rows = IpSetSyncState.objects.filter(ip_version=version)
    if not rows.update(desired_generation=F("desired_generation") + 1):
        lock_sync_states((version,))  # the row was missing (a test's flush): made here
        rows.update(desired_generation=F("desired_generation") + 1)
    return rows.values_list("desired_generation", flat=True).get()


def sync_after_change(
    *,
    version: int,
    generation: int,
    requester: Requester,
    gateway: WafIpSetGateway | None,
) -> SyncOutcome:
    """Wait (bounded) until WAF holds the change that made `generation` of the set
    `version`, running the set's sync round when no one else is; its audit events name
    who made the change."""
    if _in_callers_transaction():
        transaction.on_commit(
            lambda: _await_generation(
                version=version, generation=generation, requester=requester, gateway=gateway
            )
        )
        return SyncOutcome(
            status=ChangeSyncStatus.PENDING,
            reason="WAF is updated when the surrounding transaction commits.",
        )
    return _await_generation(
        version=version, generation=generation, requester=requester, gateway=gateway
    )


def outcome_without_change(version: int) -> SyncOutcome:
    """For a change that leaves the set's addresses as they are (a label, a note): what
    WAF holds now, read without waiting for anyone's sync."""
    row = (
        IpSetSyncState.objects.filter(ip_version=version)
        .values_list("status", "applied_generation", "desired_generation", "last_error")
        .first()
    )
    if row is None or (row[0] == SyncStatus.IN_SYNC and row[1] >= row[2]):
        return SyncOutcome(status=ChangeSyncStatus.APPLIED)
    return SyncOutcome(
        status=ChangeSyncStatus.PENDING,
        reason="Saved; this change does not alter WAF, but earlier changes are not in WAF "
        "yet" + (f": {row[3]}" if row[3] else "") + ". The next sync applies them.",
    )


def _syncer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def _claim_syncer(version: int, holder: str) -> bool:
    """One conditional UPDATE: the lease is ours when it was free or had expired."""
    now = timezone.now()
    free = Q(syncer_until__isnull=True) | Q(syncer_until__lte=now)
    claimed = IpSetSyncState.objects.filter(free, ip_version=version).update(
        syncer=holder, syncer_until=now + SYNCER_LEASE
    )
    return bool(claimed)


def _release_syncer(version: int, holder: str) -> None:
    IpSetSyncState.objects.filter(ip_version=version, syncer=holder).update(
        syncer="", syncer_until=None
    )
    _announce(version)


def _announce(version: int) -> None:
    """Wake the waiters (PostgreSQL; delivered when the caller's transaction commits)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(version)])


@contextmanager
def _listening() -> Iterator[None]:
    """On PostgreSQL, LISTEN on this request's connection while it waits (outside any
    transaction, so the LISTEN takes effect at once), and UNLISTEN after: connections are
    reused by later requests."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {NOTIFY_CHANNEL}")
        for _ in connection.connection.notifies(timeout=0):  # drop what is left over
            pass


def _wait_for_news(seconds: float) -> None:
    """Sleep until a round may have moved on (PostgreSQL: a NOTIFY), at most `seconds`.
    Tests replace it with a simulated clock, so none really waits."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        wait = min(seconds, NOTIFY_FALLBACK_SECONDS)
        for _ in connection.connection.notifies(timeout=wait, stop_after=1):
            pass
    else:
        time.sleep(min(seconds, POLL_SECONDS))


def _await_generation(
    *, version: int, generation: int, requester: Requester, gateway: WafIpSetGateway | None
) -> SyncOutcome:
    """Poll until a round covers `generation`; run the round when the lease is free.

    The holder runs one round (its own change is committed, so the round covers it and
    every change committed before the round took the row lock) and releases the lease:
    a waiter whose change arrived during that round takes over within a poll, so no
    request keeps syncing for others while its own client waits."""
    with _listening():
        return _wait_or_sync(
            version=version, generation=generation, requester=requester, gateway=gateway
        )


def _wait_or_sync(
    *, version: int, generation: int, requester: Requester, gateway: WafIpSetGateway | None
) -> SyncOutcome:
    deadline = _clock() + settings.GATEHOUSE_SYNC_WAIT_SECONDS
    holder = _syncer_name()
    while True:
        row = (
            IpSetSyncState.objects.filter(ip_version=version)
            .values_list("applied_generation", "syncer_until")
            .first()
        )
        if row is not None and row[0] >= generation:
            return SyncOutcome(status=ChangeSyncStatus.APPLIED)
        lease_free = row is not None and (row[1] is None or row[1] <= timezone.now())
        if lease_free and _claim_syncer(version, holder):
            try:
                result = _sync_set(
                    version,
                    requester=requester,
                    gateway=gateway or WafIpSetGateway.from_settings(),
                )
            finally:
                _release_syncer(version, holder)
            if result.status != SyncStatus.IN_SYNC:
                return SyncOutcome(
                    status=ChangeSyncStatus.PENDING,
                    reason=f"Saved; WAF not updated yet: {result.error} The next sync retries.",
                )
            return SyncOutcome(status=ChangeSyncStatus.APPLIED)
        remaining = deadline - _clock()
        if remaining <= 0:
            return SyncOutcome(
                status=ChangeSyncStatus.PENDING,
                reason="Saved; another request is updating WAF and did not confirm this "
                f"change within {settings.GATEHOUSE_SYNC_WAIT_SECONDS:g} s. The next sync "
                "applies it.",
            )
        _wait_for_news(remaining)


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
        for version in versions:
            _announce(version)  # changes waiting for this set may be covered now
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
    first: IpSetSnapshot | None = None
    first_error: WafSyncError | None = None
    if not dry_run:
        # Read WAF before taking the set's lock, so changes keep committing meanwhile; the
        # desired state read under the lock then includes them (group commit). The write
        # carries this read's lock token: if WAF changed since, it re-reads.
        unlocked = (
            IpSetSyncState.objects.filter(ip_version=version)
            .values_list("name", "ip_set_id", "last_applied")
            .first()
        )
        if unlocked is not None and unlocked[0] == name:
            gateway.remember_id(version, unlocked[1])
        try:
            first = gateway.read(version, known=set(unlocked[2]) if unlocked else frozenset())
        except WafSyncError as exc:
            first_error = exc  # recorded below, under the lock, like any failure
    with transaction.atomic():
        # The lock serialises syncs of this set across processes and orders them with the
        # changes (which take it too). A dry run only reads.
        state = selectors.sync_state(version) if dry_run else lock_sync_states((version,))[version]
        if state.name != name:  # the edge was renamed: what we applied was another set
            state.name, state.ip_set_id, state.last_applied = name, "", []
        gateway.remember_id(version, state.ip_set_id)
        # Every change up to this generation has committed (they bump it under the lock).
        generation = state.desired_generation
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
            if first_error is not None:
                raise first_error
            if dry_run:
                plan(gateway.read(version, known=merge.desired | merge.last_applied))
            else:
                result = gateway.apply(
                    version, plan, known=merge.desired | merge.last_applied, first=first
                )
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
        if generation > state.applied_generation:
            state.applied_generation = generation  # WAF now holds every change up to it
            fields.append("applied_generation")
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
