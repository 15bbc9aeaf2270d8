"""Changes to the allowlist and the guards they pass; the WAF sync is in `sync.py`, who
asked and the audit trail in `audit.py` (both re-exported here under their old names).

Each change is one transaction holding the row change, its audit event and the bump of
its IP set's desired generation. The WAF sync runs after that transaction commits (or,
inside a caller's own transaction, when that one commits), grouped with the changes
committed alongside (see `sync.py`), so a WAF failure never loses a change: the sync state
says pending and the next sync converges. A change that leaves WAF as it is (a label, a
note, the review mark) never waits for WAF.

The allowlist's invariants hold on every path (API, commands, adoption; the Django admin
only reads networks), each checked on the state after the change while holding the
allowlist lock (both IpSetSyncState rows, in IP-version order; syncs take the same rows):
at least one active network without an expiry remains; no change empties an IP version's
set, now or when a new expiry passes; at most 10,000 active networks per IP version. Only
`allow_empty=True` (the command line's --allow-empty) may break the first two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accesscontrol import selectors
from accesscontrol.audit import (
    Requester,
    command_line_requester,
    network_snapshot,
    record_audit_event,
)
from accesscontrol.exceptions import EmptyAllowlist, NetworkConflict, SelfLockout
from accesscontrol.models import AllowedNetwork
from accesscontrol.sync import (
    ChangeSyncStatus,
    SetSyncResult,
    SyncOutcome,
    SyncReport,
    forget_applied_state,
    lock_sync_states,
    mark_desired,
    outcome_without_change,
    sync_after_change,
    sync_waf_ip_sets,
)
from accesscontrol.validation import (
    MAX_ACTIVE_PER_VERSION,
    MAX_TTL_HOURS,
    check_network_policy,
    clean_expires_at,
    clean_label,
    clean_note,
    parse_network,
)
from accesscontrol.waf import WafIpSetGateway

__all__ = [
    "Admission",
    "ChangeSyncStatus",
    "EnsuredNetwork",
    "NetworkChange",
    "Requester",
    "SetSyncResult",
    "SyncOutcome",
    "SyncReport",
    "allow_network",
    "command_line_requester",
    "ensure_network_allowed",
    "expiry_after_hours",
    "forget_applied_state",
    "network_snapshot",
    "record_audit_event",
    "revoke_network",
    "sync_waf_ip_sets",
    "update_network",
]

UPDATABLE_FIELDS = ("label", "note", "expires_at", "reviewed")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class NetworkChange:
    network: AllowedNetwork
    sync: SyncOutcome
    covered_by: list[AllowedNetwork] = field(default_factory=list)


def expiry_after_hours(ttl_hours: object, *, field_name: str = "ttl_hours") -> datetime:
    """Temporary access: the expiry `ttl_hours` whole hours from now, 1 to MAX_TTL_HOURS
    (the API's ttl_hours and allow_ip's --ttl-hours)."""
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int):
        ttl_hours = None
    if ttl_hours is None or not 1 <= ttl_hours <= MAX_TTL_HOURS:
        raise ValidationError(
            {
                field_name: [
                    ValidationError(
                        f"Enter a whole number of hours from 1 to {MAX_TTL_HOURS:,} "
                        f"({MAX_TTL_HOURS // 24} days).",
                        code="invalid",
                    )
                ]
            }
        )
    return timezone.now() + timedelta(hours=ttl_hours)


# -- the allowlist's invariants -------------------------------------------------------------


def _lock_allowlist() -> None:
    """Serialise every change that could break an invariant, and every sync: both sync-state
    rows, always in IP-version order (so two lockers never deadlock). Inside a transaction."""
    lock_sync_states()


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
            rule=EmptyAllowlist.Rule.LAST_PERMANENT,
        )
    same_version = others.filter(ip_version=version)
    if removed and not same_version.exists():
        raise EmptyAllowlist(
            f"{network.cidr} is the last active IPv{version} network: removing it empties "
            f"the IPv{version} WAF set and blocks every IPv{version} viewer. Add another "
            f"IPv{version} network first; only the command line can do this "
            "(--allow-empty).",
            rule=EmptyAllowlist.Rule.LAST_OF_VERSION,
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
            rule=EmptyAllowlist.Rule.LAST_PERMANENT_OF_VERSION,
        )


# -- changes --------------------------------------------------------------------------------


def _collect(
    errors: dict[str, list[ValidationError]],
    func: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T | None:
    try:
        return func(*args, **kwargs)
    except ValidationError as exc:
        for key, messages in exc.error_dict.items():
            errors.setdefault(key, []).extend(messages)
        return None


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
    errors: dict[str, list[ValidationError]] = {}
    network_ip = _collect(errors, parse_network, cidr)
    if network_ip is not None:
        _collect(errors, check_network_policy, network_ip, is_superuser=requester.is_superuser)
    cleaned_label = _collect(errors, clean_label, label)
    cleaned_note = _collect(errors, clean_note, note)
    expires_at = _collect(errors, clean_expires_at, expires_at)
    if source not in AllowedNetwork.Source.values:
        errors.setdefault("source", []).append(
            ValidationError(f"Unknown source {source!r}.", code="invalid")
        )
    if errors:
        raise ValidationError(errors)
    # No errors: every _collect above returned its function's value (never None here).
    assert network_ip is not None and cleaned_label is not None and cleaned_note is not None

    normalised = str(network_ip)
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
                    label=cleaned_label,
                    note=cleaned_note,
                    expires_at=expires_at,
                    source=source,
                    created_by=requester.authenticated_user,
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
        generation = mark_desired(network.ip_version)
    outcome = sync_after_change(
        version=network.ip_version, generation=generation, requester=requester, gateway=gateway
    )
    return NetworkChange(network=network, sync=outcome, covered_by=covered_by)


def _coverage_end(
    networks: list[AllowedNetwork], overrides: dict[int, datetime | None]
) -> datetime | None:
    """When coverage by the (non-empty) `networks` ends, None meaning never, with some
    expiries overridden."""
    ends = [overrides.get(n.pk, n.expires_at) for n in networks]
    finite = [end for end in ends if end is not None]
    return max(finite) if len(finite) == len(ends) else None


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
    errors: dict[str, list[ValidationError]] = {}
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
        # Only the expiry moves the network in or out of WAF: the rest never waits for it.
        generation = mark_desired(locked.ip_version) if expiry_change else None
    if generation is None:
        outcome = outcome_without_change(locked.ip_version)
    else:
        outcome = sync_after_change(
            version=locked.ip_version, generation=generation, requester=requester, gateway=gateway
        )
    return NetworkChange(network=locked, sync=outcome, covered_by=covered_by)


def _guard_expiry(
    requester: Requester, network: AllowedNetwork, expires_at: datetime, *, confirm: bool
) -> None:
    """Setting an expiry must not end the requester's own access sooner, unconfirmed."""
    if confirm or requester.ip is None:
        return
    covering = selectors.networks_covering(ip=requester.ip)
    if network.pk not in {n.pk for n in covering}:
        return
    before = _coverage_end(covering, {})
    after = _coverage_end(covering, {network.pk: expires_at})
    if after is not None and (before is None or after < before):
        raise SelfLockout(str(requester.ip), covering)


def revoke_network(
    *,
    requester: Requester,
    network: AllowedNetwork,
    confirm: bool = False,
    allow_empty: bool = False,
    gateway: WafIpSetGateway | None = None,
) -> SyncOutcome:
    with transaction.atomic():
        # Two revokes at once must not each see "another network remains" and together
        # empty the allowlist: they queue on the sync-state rows. Syncs take the same rows
        # and never a network row, and here they come first, so the two cannot deadlock.
        _lock_allowlist()
        locked = AllowedNetwork.objects.select_for_update().get(pk=network.pk)
        if locked.is_active:
            if not allow_empty:
                _guard_allowlist(network=locked, expires_at=None, removed=True)
            if requester.ip is not None and not confirm:
                covering = selectors.networks_covering(ip=requester.ip)
                if any(n.pk == locked.pk for n in covering) and all(
                    n.pk == locked.pk for n in covering
                ):
                    raise SelfLockout(str(requester.ip), covering)
        version = locked.ip_version
        before = network_snapshot(locked)
        locked.delete()
        record_audit_event(
            requester=requester, action="network.revoke", subject=before["cidr"], before=before
        )
        generation = mark_desired(version)
    return sync_after_change(
        version=version, generation=generation, requester=requester, gateway=gateway
    )


class Admission(StrEnum):
    """What `ensure_network_allowed` did."""

    ADDED = "added"
    REACTIVATED = "reactivated"
    ALREADY_ALLOWED = "already_allowed"


@dataclass(frozen=True, kw_only=True)
class EnsuredNetwork:
    admission: Admission
    change: NetworkChange


def ensure_network_allowed(
    *,
    requester: Requester,
    cidr: str,
    label: str,
    note: str = "",
    expires_at: datetime | None = None,
    source: str = AllowedNetwork.Source.CLI,
    gateway: WafIpSetGateway | None = None,
) -> EnsuredNetwork:
    """The break-glass door: after this the network is on the allowlist and in WAF, however
    it stood before. Added when new; an expired entry is reactivated (with this label and
    expiry, confirmed: the requester asks for it); an active one gets its set re-synced
    (someone may have emptied it in WAF)."""
    try:
        change = allow_network(
            requester=requester,
            cidr=cidr,
            label=label,
            note=note,
            expires_at=expires_at,
            source=source,
            gateway=gateway,
        )
        return EnsuredNetwork(admission=Admission.ADDED, change=change)
    except NetworkConflict as conflict:
        network = conflict.existing
    if not network.is_active:
        change = update_network(
            requester=requester,
            network=network,
            changes={"expires_at": expires_at, "label": label},
            confirm=True,
            gateway=gateway,
        )
        return EnsuredNetwork(admission=Admission.REACTIVATED, change=change)
    # Someone may have emptied the set in WAF: a new generation makes a round read it.
    with transaction.atomic():
        generation = mark_desired(network.ip_version)
    outcome = sync_after_change(
        version=network.ip_version, generation=generation, requester=requester, gateway=gateway
    )
    return EnsuredNetwork(
        admission=Admission.ALREADY_ALLOWED,
        change=NetworkChange(network=network, sync=outcome),
    )
