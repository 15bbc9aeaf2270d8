"""Access links: a one-time way in for someone the allowlist does not cover yet.

An editor (or `manage.py create_access_link`) makes a link; whoever opens it and presses
the button gets their own address (as the edge sees it: /32 or /128) allowed for the
link's hours, as a temporary network with source `access_link`, through the same
`allow_network` as every other change (same rules, same messages, same WAF sync).

Invariants: only the sha256 of a token is stored (the token has 256 bits from `secrets`,
so a plain hash is enough: there is nothing to guess); a link is redeemed at most
`max_uses` times, claimed with one conditional UPDATE so two presses cannot both win; a
link that is unknown, expired, used up or revoked is indistinguishable to the visitor
(`InvalidAccessLink`, one message). Every creation, revocation and redemption is audited.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accesscontrol.exceptions import AccessControlError, NetworkConflict
from accesscontrol.models import AccessLink, AccessThrottle, AllowedNetwork
from accesscontrol.services import (
    NetworkChange,
    Requester,
    SyncOutcome,
    allow_network,
    record_audit_event,
    update_network,
)
from accesscontrol.validation import clean_label
from accesscontrol.waf import WafIpSetGateway

TOKEN_BYTES = 32  # 256 bits; token_urlsafe makes 43 characters of [A-Za-z0-9_-]
TOKEN_LENGTH = 43
URL_PREFIX = "/api/access/"
HOURS_MIN, HOURS_MAX, HOURS_DEFAULT = 1, 7 * 24, 8
VALID_HOURS_MIN, VALID_HOURS_MAX, VALID_HOURS_DEFAULT = 1, 30 * 24, 24
MAX_USES_MAX = 50
INVALID_MESSAGE = "This link is not valid."


class InvalidAccessLink(AccessControlError):
    """Unknown, expired, used up or revoked: the visitor is never told which."""

    def __init__(self) -> None:
        super().__init__(INVALID_MESSAGE)


class AlreadyAllowed(AccessControlError):
    """The redeemer's address is on the allowlist already, for at least as long."""

    def __init__(self, network: AllowedNetwork) -> None:
        self.network = network
        until = f" until {network.expires_at:%Y-%m-%d %H:%M} UTC" if network.expires_at else ""
        super().__init__(f"Your address is already allowed ({network.cidr}{until}).")


@dataclass(frozen=True)
class CreatedLink:
    link: AccessLink
    token: str  # shown once; never stored

    @property
    def path(self) -> str:
        return f"{URL_PREFIX}{self.token}"


@dataclass(frozen=True)
class Redemption:
    link: AccessLink
    network: AllowedNetwork
    sync: SyncOutcome


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_token_shaped(token: str) -> bool:
    return len(token) == TOKEN_LENGTH and all(c.isalnum() or c in "-_" for c in token)


def _requester_name(requester: Requester) -> str:
    return requester.actor_name[:150]


def _int_in_range(
    errors: dict[str, list[ValidationError]],
    field_name: str,
    value: object,
    low: int,
    high: int,
    what: str,
) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[field_name] = [
            ValidationError(f"{what} must be a whole number from {low} to {high}.", code="range")
        ]


def snapshot(link: AccessLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "label": link.label,
        "hours": link.hours,
        "expires_at": link.expires_at.isoformat(),
        "max_uses": link.max_uses,
        "created_by": link.created_by_name,
    }


def create_access_link(
    *,
    requester: Requester,
    label: str,
    hours: int = HOURS_DEFAULT,
    valid_hours: int = VALID_HOURS_DEFAULT,
    max_uses: int = 1,
) -> CreatedLink:
    errors: dict[str, list[ValidationError]] = {}
    try:
        label = clean_label(label)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    _int_in_range(errors, "hours", hours, HOURS_MIN, HOURS_MAX, "Access hours")
    _int_in_range(
        errors, "valid_hours", valid_hours, VALID_HOURS_MIN, VALID_HOURS_MAX, "Link validity"
    )
    _int_in_range(errors, "max_uses", max_uses, 1, MAX_USES_MAX, "Uses")
    if errors:
        raise ValidationError(errors)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        link = AccessLink.objects.create(
            token_hash=hash_token(token),
            label=label,
            hours=hours,
            expires_at=timezone.now() + timedelta(hours=valid_hours),
            max_uses=max_uses,
            created_by=requester.authenticated_user,
            created_by_name=_requester_name(requester),
        )
        record_audit_event(
            requester=requester,
            action="access.create",
            subject=f"access link {link.pk}: {label}",
            after=snapshot(link),
        )
    return CreatedLink(link=link, token=token)


def revoke_access_link(*, requester: Requester, link: AccessLink) -> AccessLink:
    """Revoke (idempotent: a revoked link stays as it was revoked first)."""
    with transaction.atomic():
        locked = AccessLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is not None:
            return locked
        before = {**snapshot(locked), "status": locked.status}
        locked.revoked_at = timezone.now()
        locked.revoked_by_name = _requester_name(requester)
        locked.save(update_fields=["revoked_at", "revoked_by_name"])
        record_audit_event(
            requester=requester,
            action="access.revoke",
            subject=f"access link {locked.pk}: {locked.label}",
            before=before,
            after={**snapshot(locked), "status": AccessLink.Status.REVOKED},
        )
    return locked


def usable_link(token: str, *, at: datetime | None = None) -> AccessLink:
    """The link a token opens, or InvalidAccessLink (whatever the reason)."""
    if not is_token_shaped(token):
        raise InvalidAccessLink
    link = AccessLink.objects.filter(token_hash=hash_token(token)).first()
    if link is None or link.status_at(at or timezone.now()) != AccessLink.Status.ACTIVE:
        raise InvalidAccessLink
    return link


def network_for(ip: str) -> str:
    """The network a redemption from `ip` adds: the address alone (/32 or /128)."""
    address = ipaddress.ip_address(ip)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return f"{address}/{address.max_prefixlen}"


def _claim(link: AccessLink, *, ip: str, cidr: str, now: datetime) -> bool:
    return bool(
        AccessLink.objects.filter(
            pk=link.pk, revoked_at__isnull=True, uses__lt=F("max_uses"), expires_at__gt=now
        ).update(uses=F("uses") + 1, used_at=now, redeemed_from=ip, network_cidr=cidr)
    )


def _unclaim(link: AccessLink) -> None:
    AccessLink.objects.filter(pk=link.pk).update(
        uses=F("uses") - 1,
        used_at=link.used_at,
        redeemed_from=link.redeemed_from,
        network_cidr=link.network_cidr,
    )


def _allow(
    *,
    requester: Requester,
    link: AccessLink,
    cidr: str,
    until: datetime,
    gateway: WafIpSetGateway | None,
) -> NetworkChange:
    try:
        return allow_network(
            requester=requester,
            cidr=cidr,
            label=f"Access link: {link.label}"[:100],
            note=f"Access link {link.pk} made by {link.created_by_name}.",
            expires_at=until,
            source=AllowedNetwork.Source.ACCESS_LINK,
            gateway=gateway,
        )
    except NetworkConflict as exc:
        existing = exc.existing
        if existing.is_active and (existing.expires_at is None or existing.expires_at >= until):
            raise AlreadyAllowed(existing) from None
        # The same address, expired or ending sooner (an earlier link): extend it.
        change: NetworkChange = update_network(
            requester=requester, network=existing, changes={"expires_at": until}, gateway=gateway
        )
        return change


def redeem_access_link(
    *, token: str, ip: str, user_agent: str = "", gateway: WafIpSetGateway | None = None
) -> Redemption:
    """Allow `ip` (the viewer's address) through the link `token` opens.

    Raises InvalidAccessLink, AlreadyAllowed, or what `allow_network` raises for an
    address the allowlist's rules refuse (ValidationError on "cidr"); the link stays
    usable after any refusal."""
    link = usable_link(token)
    cidr = network_for(ip)
    now = timezone.now()
    if not _claim(link, ip=ip, cidr=cidr, now=now):
        raise InvalidAccessLink  # used up or revoked a moment ago
    requester = Requester(
        ip=ipaddress.ip_address(ip),
        user_agent=user_agent[:512],
        name=f"access-link:{link.pk}:{link.label}"[:150],
    )
    until = now + timedelta(hours=link.hours)
    try:
        change = _allow(requester=requester, link=link, cidr=cidr, until=until, gateway=gateway)
    except Exception:
        _unclaim(link)
        raise
    record_audit_event(
        requester=requester,
        action="access.redeem",
        subject=cidr,
        after={**snapshot(link), "network": cidr, "allowed_until": until.isoformat()},
        reason=f"Access link {link.label!r} made by {link.created_by_name}",
    )
    link.refresh_from_db()
    return Redemption(link=link, network=change.network, sync=change.sync)


# -- throttle -------------------------------------------------------------------------------


def count_request(key: str, *, window: timedelta, at: datetime | None = None) -> int:
    """Count one request from `key` in the current fixed window; the count so far."""
    now = at or timezone.now()
    seconds = int(window.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    rows = AccessThrottle.objects.filter(key=key, window_start=start)
    if not rows.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                AccessThrottle.objects.create(key=key, window_start=start, count=1)
            # A new window: forget the old ones (one indexed delete per key and window).
            AccessThrottle.objects.filter(window_start__lt=start).delete()
            return 1
        except IntegrityError:  # another instance created it first
            rows.update(count=F("count") + 1)
    return rows.values_list("count", flat=True).first() or 1
