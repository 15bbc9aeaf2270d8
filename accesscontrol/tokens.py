"""API tokens for scripts and CI: made, checked and revoked here; the HTTP side (the DRF
authentication class and the principal a request acts as) is in api/tokens_auth.py.

Invariants:
- Only sha256(token) is stored. The token is "gh_" + 43 characters of `secrets`
  (256 random bits), shown once. A slow password hash (PBKDF2, argon2) protects secrets
  people choose, which are guessable; 256 random bits cannot be guessed from their sha256
  whatever the hash's speed, and a fast deterministic hash lets each request find its
  token with one indexed lookup.
- A token's role is never above its creator's role when made, and never above the
  creator's role now: a token whose creator is gone, deactivated or demoted below it
  stops working (`TokenCreatorLacksRole`), rather than silently acting with less.
- Every token expires, at most GATEHOUSE_TOKEN_MAX_DAYS after it is made; a revoked or
  expired token is refused with its own reason. Making and revoking are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accesscontrol.audit import Requester, record_audit_event
from accesscontrol.models import ApiToken

TOKEN_PREFIX = "gh_"  # noqa: S105  # a marker that finds leaked tokens, not a secret
# A write per request would turn every read into a write: last_used_at is only moved
# when it is older than this.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX = 100
ROLE_RANK: dict[str, int] = {
    ApiToken.Role.VIEWER.value: 1,
    ApiToken.Role.EDITOR.value: 2,
    ApiToken.Role.SUPERUSER.value: 3,
}


class InvalidToken(Exception):
    """A bearer token that cannot be used; `code` says why (for a 401)."""

    code = "token_invalid"

    def __init__(self, message: str):
        super().__init__(message)


class UnknownToken(InvalidToken):
    code = "token_invalid"


class ExpiredToken(InvalidToken):
    code = "token_expired"


class RevokedToken(InvalidToken):
    code = "token_revoked"


class TokenCreatorLacksRole(InvalidToken):
    code = "token_creator_lacks_role"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rank(role: str) -> int:
    """A role's rank (0 for none or an unknown role)."""
    return ROLE_RANK.get(role, 0)


@dataclass(frozen=True, kw_only=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def _error(field_name: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field_name: [ValidationError(message, code=code)]})


def create_api_token(
    *,
    requester: Requester,
    creator_role: str,
    name: object,
    role: object,
    expires_in_days: object,
) -> CreatedToken:
    """Make a token with `role` (not above `creator_role`, the requester's role now)
    for `expires_in_days` whole days (1 to GATEHOUSE_TOKEN_MAX_DAYS)."""
    errors: dict[str, list[ValidationError]] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name or len(clean_name) > NAME_MAX:
        errors["name"] = [
            ValidationError(
                f"Name the token after the script that uses it (1 to {NAME_MAX} characters), "
                "e.g. 'ci-deploy'.",
                code="invalid",
            )
        ]
    elif (
        ApiToken.objects.filter(name=clean_name, revoked_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .exists()
    ):
        # The audit trail names a token's actions token:<name>: two live tokens with one
        # name would be indistinguishable there.
        errors["name"] = [
            ValidationError(
                f"A token named {clean_name!r} is already active: pick another name, or "
                "revoke that one first.",
                code="duplicate",
            )
        ]
    if role not in ApiToken.Role.values:
        errors["role"] = [
            ValidationError("The role must be viewer, editor or superuser.", code="invalid")
        ]
    elif rank(str(role)) > rank(creator_role):
        errors["role"] = [
            ValidationError(
                f"A token's role cannot be above your own ({creator_role}).", code="above_own"
            )
        ]
    max_days = settings.GATEHOUSE_TOKEN_MAX_DAYS
    if (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= max_days
    ):
        errors["expires_in_days"] = [
            ValidationError(
                f"Give the token a lifetime of 1 to {max_days} whole days.", code="invalid"
            )
        ]
    if errors:
        raise ValidationError(errors)
    assert isinstance(expires_in_days, int)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    user = requester.authenticated_user
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=clean_name,
            token_hash=hash_token(secret),
            prefix=secret[:10],
            role=str(role),
            created_by=user,
            created_by_name=requester.actor_name,
            expires_at=timezone.now() + timedelta(days=expires_in_days),
        )
        record_audit_event(
            requester=requester,
            action="token.create",
            subject=f"token:{token.name}",
            after=token_snapshot(token),
        )
    return CreatedToken(token=token, secret=secret)


def revoke_api_token(*, requester: Requester, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            before = token_snapshot(locked)
            locked.revoked_at = timezone.now()
            locked.revoked_by_name = requester.actor_name
            locked.save(update_fields=["revoked_at", "revoked_by_name"])
            record_audit_event(
                requester=requester,
                action="token.revoke",
                subject=f"token:{locked.name}",
                before=before,
                after=token_snapshot(locked),
            )
    return locked


def token_snapshot(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "role": token.role,
        "expires_at": token.expires_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def usable_token(secret: str, *, now: datetime | None = None) -> ApiToken:
    """The token `secret` names, if it may be used now (its creator's role is checked by
    the caller, which knows roles); else an InvalidToken saying why."""
    now = now or timezone.now()
    token = (
        ApiToken.objects.select_related("created_by").filter(token_hash=hash_token(secret)).first()
    )
    if token is None:
        raise UnknownToken("The bearer token is not valid.")
    status = token.status_at(now)
    if status == ApiToken.Status.REVOKED:
        raise RevokedToken(f"The token {token.name!r} has been revoked.")
    if status == ApiToken.Status.EXPIRED:
        raise ExpiredToken(f"The token {token.name!r} expired; make a new one.")
    return token


def mark_used(token: ApiToken, *, now: datetime | None = None) -> None:
    """Record use, at most once per LAST_USED_RESOLUTION (one conditional UPDATE, and
    none at all while the stored time is recent)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
