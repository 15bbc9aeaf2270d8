"""Changes to the allowlist, and the sync that projects it into the WAF IP sets.

Each change is one transaction holding the row change and its audit event. The WAF sync
runs after that transaction commits (or, inside a caller's own transaction, when that one
commits), so a WAF failure never loses a change: the sync state says pending and the
next sync converges.

Sync is a three-way merge per IP set: desired = active networks, current = WAF,
last applied = what we last wrote. Addresses in WAF that we never wrote pass the same input
rules as a change without a superuser (public ranges, widest prefix, 10,000 per set): those
that pass are adopted as `adopted` networks marked for review, the rest are refused
(audited, reported as drift, and removed from WAF); then desired is written with the set's
lock token.

The allowlist's invariants hold on every path (API, commands, adoption; the Django admin
only reads networks), each checked on the state after the change while holding the
allowlist lock (both IpSetSyncState rows, in IP-version order; syncs take the same rows):
at least one active network without an expiry remains; no change empties an IP version's
set, now or when a new expiry passes; at most 10,000 active networks per IP version. Only
`allow_empty=True` (the command line's --allow-empty) may break the first two.

Syncs of one IP version are serialised by a row lock on its IpSetSyncState, so a waiter
that finds WAF already matching skips its write: bursts coalesce.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accesscontrol import selectors
from accesscontrol.exceptions import EmptyAllowlist, NetworkConflict, SelfLockout, WafSyncError
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from accesscontrol.validation import (
    MAX_ACTIVE_PER_VERSION,
    check_network_policy,
    clean_expires_at,
    clean_label,
    clean_note,
    parse_network,
)
from accesscontrol.waf import IP_VERSIONS, IpSetSnapshot, WafIpSetGateway

log = logging.getLogger(__name__)

UPDATABLE_FIELDS = ("label", "note", "expires_at", "reviewed")
# A sync.apply event lists at most this many addresses per kind (with the full counts):
# each address change has its own event already (allow/revoke/adopt/expire), and a first
# sync of 10,000 entries should not write a 10,000-entry audit record.
AUDIT_LIST_LIMIT = 100


@dataclass(frozen=True)
class Requester:
    """Who asks and from where. user None means the system or the command line; `name`
    then says which (e.g. "cli:alice@host", see `command_line_requester`)."""

    user: Any = None
    ip: str | None = None
    user_agent: str = ""
    name: str = ""


SYSTEM = Requester()


def command_line_requester(command: str) -> Requester:
    """A management command's requester: the operating-system user and host that ran it,
    so the audit trail attributes break-glass and other CLI actions to a person."""
    import getpass
    import socket

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        who = "unknown"
    return Requester(name=f"cli:{who}@{socket.gethostname()}"[:150], user_agent=command)


@dataclass(frozen=True)
class SyncOutcome:
    status: str  # "applied" | "pending"
    reason: str = ""


@dataclass(frozen=True)
class NetworkChange:
    network: AllowedNetwork
    sync: SyncOutcome
    covered_by: list[AllowedNetwork] = field(default_factory=list)


@dataclass(frozen=True)
class SetSyncResult:
    name: str
    ip_version: int
    to_add: list[str]
    to_remove: list[str]
    adopted: list[str]
    wrote: bool
    status: str  # "in_sync" | "pending" | "failed"
    error: str = ""
    removed_outside: list[str] = field(default_factory=list)
    # Outside additions that failed the input rules: address -> why (removed from WAF).
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncReport:
    sets: list[SetSyncResult]
    dry_run: bool = False

    @property
    def in_sync(self) -> bool:
        return all(s.status == IpSetSyncState.Status.IN_SYNC for s in self.sets)


# -- audit ----------------------------------------------------------------------------------


def _user(requester: Requester | None) -> Any:
    user = requester.user if requester else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _clean_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _audit_event(
    *,
    requester: Requester | None,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    user = _user(requester)
    return AuditEvent(
        actor=user,
        actor_name=user.get_username() if user else (requester and requester.name) or "system",
        action=action,
        subject=subject[:255],
        before=before,
        after=after,
        reason=reason,
        request_ip=_clean_ip(requester.ip if requester else None),
        user_agent=(requester.user_agent if requester else "")[:512],
    )


def record_audit_event(
    *,
    requester: Requester | None,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    event = _audit_event(
        requester=requester,
        action=action,
        subject=subject,
        before=before,
        after=after,
        reason=reason,
    )
    event.save()
    return event


def network_snapshot(network: AllowedNetwork) -> dict[str, Any]:
    return {
        "cidr": network.cidr,
        "ip_version": network.ip_version,
        "label": network.label,
        "note": network.note,
        "expires_at": network.expires_at.isoformat() if network.expires_at else None,
        "source": network.source,
        "needs_review": network.needs_review,
    }


# -- the allowlist's invariants -------------------------------------------------------------


def _lock_allowlist() -> None:
    """Serialise every change that could break an invariant, and every sync: both sync-state
    rows, always in IP-version order (so two lockers never deadlock). Inside a transaction;
    the rows exist from `selectors.sync_states()` on."""
    list(IpSetSyncState.objects.select_for_update().order_by("ip_version"))


def _limit_error(version: int, field_name: str) -> ValidationError:
    return ValidationError(
        {
            field_name: [
                ValidationError(
                    f"The IPv{version} allowlist already holds {MAX_ACTIVE_PER_VERSION:,} "
                    "active networks, WAF's limit per IP set. Remove some (or merge them "
                    "into wider networks) first.",
                    code="limit",
                )
            ]
        }
    )


def _check_room(version: int, *, field_name: str) -> None:
    """One more active network of `version` must fit in WAF's set (under the lock)."""
    active = AllowedNetwork.objects.active().filter(ip_version=version).count()
    if active >= MAX_ACTIVE_PER_VERSION:
        raise _limit_error(version, field_name)


def _shortens(old: datetime | None, new: datetime | None) -> bool:
    """Does moving an expiry from `old` to `new` end the access sooner? (None = never)"""
    return new is not None and (old is None or new < old)


def _guard_allowlist(
    *, network: AllowedNetwork, expires_at: datetime | None, removed: bool
) -> None:
    """Refuse a change to the active `network` (its removal, or a sooner expiry) that would
    leave no active network without an expiry, or empty its IP version's WAF set now or
    once the new expiry passes. Checked on the state after the change, under the lock."""
    version = network.ip_version
    others = AllowedNetwork.objects.active().exclude(pk=network.pk)
    permanent_after = not removed and expires_at is None
    if not permanent_after and not others.filter(expires_at__isnull=True).exists():
        consequence = (
            "without it, the allowlist empties once the temporary entries left expire"
            if removed
            else "with an expiry, the allowlist empties when it expires"
        )
        raise EmptyAllowlist(
            f"{network.cidr} is the last active network without an expiry: {consequence}, "
            "and WAF then blocks everyone. Add another permanent network first; only the "
            "command line can empty the allowlist (--allow-empty).",
            rule="last_permanent",
        )
    same_version = others.filter(ip_version=version)
    if removed and not same_version.exists():
        raise EmptyAllowlist(
            f"{network.cidr} is the last active IPv{version} network: removing it empties "
            f"the IPv{version} WAF set and blocks every IPv{version} viewer. Add another "
            f"IPv{version} network first; only the command line can do this "
            "(--allow-empty).",
            rule="last_of_version",
        )
    if (
        not permanent_after
        and network.expires_at is None
        and not same_version.filter(expires_at__isnull=True).exists()
    ):
        raise EmptyAllowlist(
            f"{network.cidr} is the last IPv{version} network without an expiry: with one, "
            f"the IPv{version} WAF set empties when it expires and blocks every "
            f"IPv{version} viewer. Add another permanent IPv{version} network first.",
            rule="last_permanent_of_version",
        )


# -- changes --------------------------------------------------------------------------------


def _collect(errors: dict[str, list], func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except ValidationError as exc:
        for key, messages in exc.error_dict.items():
            errors.setdefault(key, []).extend(messages)
        return None


def _is_superuser(requester: Requester) -> bool:
    user = _user(requester)
    return bool(user and user.is_superuser)


def allow_network(
    *,
    requester: Requester,
    cidr: str,
    label: str,
    note: str = "",
    expires_at: datetime | None = None,
    source: str = AllowedNetwork.Source.CONSOLE,
    gateway: WafIpSetGateway | None = None,
) -> NetworkChange:
    errors: dict[str, list] = {}
    network_ip = _collect(errors, parse_network, cidr)
    if network_ip is not None:
        _collect(errors, check_network_policy, network_ip, is_superuser=_is_superuser(requester))
    label = _collect(errors, clean_label, label)
    note = _collect(errors, clean_note, note)
    expires_at = _collect(errors, clean_expires_at, expires_at)
    if source not in AllowedNetwork.Source.values:
        errors.setdefault("source", []).append(
            ValidationError(f"Unknown source {source!r}.", code="invalid")
        )
    if errors:
        raise ValidationError(errors)

    normalised = str(network_ip)
    selectors.sync_states()  # the rows the lock takes exist from the first sync on
    with transaction.atomic():
        _lock_allowlist()  # two additions at 9,999 must not both fit
        existing = AllowedNetwork.objects.filter(cidr=normalised).first()
        if existing:
            raise NetworkConflict(existing)
        _check_room(network_ip.version, field_name="cidr")
        try:
            with transaction.atomic():
                network = AllowedNetwork.objects.create(
                    cidr=normalised,
                    ip_version=network_ip.version,
                    label=label,
                    note=note,
                    expires_at=expires_at,
                    source=source,
                    created_by=_user(requester),
                )
        except IntegrityError:  # added concurrently
            raise NetworkConflict(AllowedNetwork.objects.get(cidr=normalised)) from None
        covered_by = selectors.networks_containing(normalised)
        record_audit_event(
            requester=requester,
            action="network.allow",
            subject=normalised,
            after=network_snapshot(network),
            reason=(
                "Already covered by " + ", ".join(n.cidr for n in covered_by) if covered_by else ""
            ),
        )
    outcome = _sync_after_change(
        versions=(network.ip_version,), requester=requester, gateway=gateway
    )
    return NetworkChange(network=network, sync=outcome, covered_by=covered_by)


def _coverage_end(networks: list[AllowedNetwork], overrides: dict[int, Any]) -> datetime | None:
    """When coverage by the (non-empty) `networks` ends, None meaning never, with some
    expiries overridden."""
    ends = [overrides.get(n.pk, n.expires_at) for n in networks]
    return None if any(end is None for end in ends) else max(ends)


def update_network(
    *,
    requester: Requester,
    network: AllowedNetwork,
    changes: dict[str, Any],
    confirm: bool = False,
    allow_empty: bool = False,
    gateway: WafIpSetGateway | None = None,
) -> NetworkChange:
    """Change label, note, expiry, or the review mark (`reviewed`). An expiry change is
    checked against the invariants (see the module docstring) and, when it reactivates an
    expired network, against the 10,000 limit; `confirm` accepts ending your own access."""
    errors: dict[str, list] = {}
    for key in changes:
        if key not in UPDATABLE_FIELDS:
            errors.setdefault(key, []).append(
                ValidationError(
                    "Only the label, note and expiry can be changed; to change the "
                    "network, add the new one and remove this one.",
                    code="read_only",
                )
            )
    cleaned: dict[str, Any] = {}
    if "label" in changes:
        cleaned["label"] = _collect(errors, clean_label, changes["label"])
    if "note" in changes:
        cleaned["note"] = _collect(errors, clean_note, changes["note"])
    if "expires_at" in changes:
        cleaned["expires_at"] = _collect(errors, clean_expires_at, changes["expires_at"])
    if "reviewed" in changes:
        if isinstance(changes["reviewed"], bool):
            cleaned["needs_review"] = not changes["reviewed"]
        else:
            errors.setdefault("reviewed", []).append(
                ValidationError("reviewed must be true or false.", code="invalid")
            )
    if errors:
        raise ValidationError(errors)

    expiry_change = "expires_at" in cleaned
    if expiry_change:
        selectors.sync_states()  # the rows the lock takes exist from the first sync on
    with transaction.atomic():
        if expiry_change:
            _lock_allowlist()  # same lock and order as revoke_network
        locked = AllowedNetwork.objects.select_for_update().get(pk=network.pk)
        before = network_snapshot(locked)
        if expiry_change:
            new_expiry = cleaned["expires_at"]
            if not locked.is_active:  # reactivation: the network goes back into WAF
                _check_room(locked.ip_version, field_name="expires_at")
            elif _shortens(locked.expires_at, new_expiry) and not allow_empty:
                _guard_allowlist(network=locked, expires_at=new_expiry, removed=False)
            if new_expiry is not None:
                _guard_expiry(requester, locked, new_expiry, confirm=confirm)
        for key, value in cleaned.items():
            setattr(locked, key, value)
        if "expires_at" in cleaned:
            locked.expiry_recorded_at = None  # the new expiry (if any) is in the future
        locked.save()
        record_audit_event(
            requester=requester,
            action="network.update",
            subject=locked.cidr,
            before=before,
            after=network_snapshot(locked),
        )
        covered_by = selectors.networks_containing(locked.cidr)
    outcome = _sync_after_change(
        versions=(locked.ip_version,), requester=requester, gateway=gateway
    )
    return NetworkChange(network=locked, sync=outcome, covered_by=covered_by)


def _guard_expiry(
    requester: Requester, network: AllowedNetwork, expires_at: datetime, *, confirm: bool
) -> None:
    """Setting an expiry must not end the requester's own access sooner, unconfirmed."""
    if confirm or not _clean_ip(requester.ip):
        return
    covering = selectors.networks_covering(ip=requester.ip)
    if network.pk not in {n.pk for n in covering}:
        return
    before = _coverage_end(covering, {})
    after = _coverage_end(covering, {network.pk: expires_at})
    if after is not None and (before is None or after < before):
        raise SelfLockout(_clean_ip(requester.ip), covering)


def revoke_network(
    *,
    requester: Requester,
    network: AllowedNetwork,
    confirm: bool = False,
    allow_empty: bool = False,
    gateway: WafIpSetGateway | None = None,
) -> SyncOutcome:
    selectors.sync_states()  # the rows locked below exist from the first sync on
    with transaction.atomic():
        # Two revokes at once must not each see "another network remains" and together
        # empty the allowlist: they queue on the sync-state rows. Syncs take the same rows
        # and never a network row, and here they come first, so the two cannot deadlock.
        _lock_allowlist()
        locked = AllowedNetwork.objects.select_for_update().get(pk=network.pk)
        if locked.is_active:
            if not allow_empty:
                _guard_allowlist(network=locked, expires_at=None, removed=True)
            viewer = _clean_ip(requester.ip)
            if viewer and not confirm:
                covering = selectors.networks_covering(ip=viewer)
                if any(n.pk == locked.pk for n in covering) and all(
                    n.pk == locked.pk for n in covering
                ):
                    raise SelfLockout(viewer, covering)
        version = locked.ip_version
        before = network_snapshot(locked)
        locked.delete()
        record_audit_event(
            requester=requester, action="network.revoke", subject=before["cidr"], before=before
        )
    return _sync_after_change(versions=(version,), requester=requester, gateway=gateway)


# -- sync -----------------------------------------------------------------------------------


def _in_callers_transaction() -> bool:
    """True inside a caller's atomic block (the change is not committed yet). The atomic
    blocks a Django TestCase opens around a test do not count, as for `durable=True`."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and not all(
        getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
    )


def _sync_after_change(
    *, versions: tuple[int, ...], requester: Requester, gateway: WafIpSetGateway | None
) -> SyncOutcome:
    """Sync what the change touched; its audit events name who made the change."""
    if _in_callers_transaction():
        transaction.on_commit(
            lambda: _sync(versions=versions, requester=requester, gateway=gateway)
        )
        return SyncOutcome(
            status="pending", reason="WAF is updated when the surrounding transaction commits."
        )
    report = _sync(versions=versions, requester=requester, gateway=gateway)
    problems = [s for s in report.sets if s.status != IpSetSyncState.Status.IN_SYNC]
    if problems:
        return SyncOutcome(
            status="pending",
            reason="Saved; WAF not updated yet: "
            + " ".join(s.error for s in problems)
            + " The next sync retries.",
        )
    return SyncOutcome(status="applied")


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
    states = {s.ip_version: s for s in selectors.sync_states()}
    results = []
    for version in versions:
        if dry_run:
            results.append(_plan_set(version, states[version], gateway))
        else:
            results.append(_sync_set(version, requester, gateway))
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
            _audit_event(
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


def _plan_set(version: int, state: IpSetSyncState, gateway: WafIpSetGateway) -> SetSyncResult:
    name = gateway.names[version]
    gateway.remember_id(version, state.ip_set_id if state.name == name else "")
    merge = _Merge(
        desired=_active_cidrs(version, timezone.now()),
        last_applied=set(state.last_applied) if state.name == name else set(),
    )
    try:
        snapshot = gateway.read(version, known=merge.desired | merge.last_applied)
    except WafSyncError as exc:
        return SetSyncResult(name, version, [], [], [], False, _failure_status(exc), str(exc))
    candidates, _known = _split_outside(merge.outside_additions(snapshot.addresses))
    to_adopt, refused = _screen_outside(
        candidates, version=version, room=MAX_ACTIVE_PER_VERSION - len(merge.desired)
    )
    merge.adopted = to_adopt
    merge.desired |= set(to_adopt)
    merge.finish(snapshot.addresses)
    changed = bool(merge.to_add or merge.to_remove or merge.adopted)
    return SetSyncResult(
        name=name,
        ip_version=version,
        to_add=merge.to_add,
        to_remove=merge.to_remove,
        adopted=merge.adopted,
        wrote=False,
        status=IpSetSyncState.Status.PENDING if changed else IpSetSyncState.Status.IN_SYNC,
        removed_outside=merge.removed_outside,
        refused=refused,
    )


def _failure_status(exc: WafSyncError) -> str:
    return IpSetSyncState.Status.PENDING if exc.transient else IpSetSyncState.Status.FAILED


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
            _audit_event(
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
            _audit_event(
                requester=requester,
                action="network.expire",
                subject=n.cidr,
                before=network_snapshot(n),
                reason=f"Expired at {n.expires_at.isoformat()}; removed from WAF.",
            )
            for n in expired
        ],
        batch_size=500,
    )
    AllowedNetwork.objects.filter(pk__in=[n.pk for n in expired]).update(expiry_recorded_at=now)


def _sync_set(version: int, requester: Requester | None, gateway: WafIpSetGateway) -> SetSyncResult:
    name = gateway.names[version]
    with transaction.atomic():
        # Serialises syncs of this set across processes; waiters then see WAF current.
        state = IpSetSyncState.objects.select_for_update().get(ip_version=version)
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
            if refused:
                _record_refusals(refused, name, requester)
                merge.refused.update(refused)
            if to_adopt:
                _adopt(to_adopt, version, name, requester)
                merge.adopted.extend(to_adopt)
                merge.desired |= set(to_adopt)
            merge.known_elsewhere = known
            return merge.finish(snapshot.addresses)

        try:
            result = gateway.apply(version, plan, known=merge.desired | merge.last_applied)
        except WafSyncError as exc:
            status = _failure_status(exc)
            if state.status != status or state.last_error != str(exc):
                AuditEvent.objects.bulk_create(
                    [
                        _audit_event(
                            requester=requester,
                            action="sync.fail",
                            subject=name,
                            reason=str(exc),
                        )
                    ]
                )
            state.status, state.last_error = status, str(exc)
            state.save(
                update_fields=[
                    "name",
                    "ip_set_id",
                    "last_applied",
                    "status",
                    "last_error",
                    "updated_at",
                ]
            )
            return SetSyncResult(
                name,
                version,
                merge.to_add,
                merge.to_remove,
                merge.adopted,
                False,
                status,
                str(exc),
                refused=merge.refused,
            )

        drift: dict[str, Any] = {}
        if merge.adopted or merge.known_elsewhere or merge.refused:
            drift["added_outside"] = sorted(
                set(merge.adopted) | set(merge.known_elsewhere) | merge.refused.keys()
            )
        if merge.refused:
            drift["refused_outside"] = dict(sorted(merge.refused.items()))
        if merge.removed_outside:
            drift["removed_outside"] = merge.removed_outside
            log.warning("%s: %s removed outside Gatehouse; restored", name, merge.removed_outside)
        fields = ["name", "ip_set_id", "last_synced_at", "status", "last_error", "drift"]
        if state.last_applied != merge.ordered:  # skip rewriting 10,000 unchanged entries
            state.last_applied = merge.ordered
            fields.append("last_applied")
        state.ip_set_id = result.snapshot.id
        state.last_synced_at = now
        state.status = IpSetSyncState.Status.IN_SYNC
        state.last_error = ""
        state.drift = drift
        state.save(update_fields=[*fields, "updated_at"])
        if result.wrote:
            AuditEvent.objects.bulk_create(
                [
                    _audit_event(
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
        to_add=merge.to_add if result.wrote else [],
        to_remove=merge.to_remove if result.wrote else [],
        adopted=merge.adopted,
        wrote=result.wrote,
        status=IpSetSyncState.Status.IN_SYNC,
        removed_outside=merge.removed_outside,
        refused=merge.refused,
    )


def forget_applied_state() -> None:
    """The IP sets were created afresh and empty (the local stack's AWS stand-in keeps
    nothing between runs): what we last applied, and the set ids, belong to sets that no
    longer exist. Forgetting them makes the next sync project the database into the new
    sets as a first sync would, without reporting the empty sets as drift."""
    selectors.sync_states()
    IpSetSyncState.objects.update(
        ip_set_id="",
        last_applied=[],
        drift={},
        status=IpSetSyncState.Status.PENDING,
        last_error="",
    )
