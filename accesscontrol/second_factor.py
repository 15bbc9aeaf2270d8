"""The second factor for password accounts: TOTP (django-otp's TOTPDevice) and one-time
recovery codes, the session's sign-in method, and who must have passed a second factor.

Invariants:
- `request.session[AUTH_METHOD]` says how the session signed in: "password" until the code
  step passes, then "password+totp" or "password+recovery"; the single sign-on sets
  "sso:<provider>" (its identity provider enforces its own factor). A session without the
  key (Django admin's login form, an old session) counts as "password".
- A session may change something only when `state()` is VERIFIED or NOT_REQUIRED: the user
  has a confirmed device and passed it, or has none and GATEHOUSE_REQUIRE_MFA does not
  cover them. api.authentication enforces it for every session request.
- The TOTP secret leaves the server only while a device is unconfirmed (enrolment); a
  confirmed device's key is never returned. Recovery codes are shown once, stored as
  SHA-256 (RecoveryCode), and each works once.
- A wrong code is a failed sign-in for django-axes (api.views.second_factor sends
  `user_login_failed`), and the password step does not reset axes' counters for a user with
  a device (accesscontrol.signin.GatehouseAxesHandler): only the code step does.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accesscontrol.audit import Requester, record_audit_event
from accesscontrol.models import RecoveryCode

AUTH_METHOD = "gatehouse_auth_method"  # the session key (shared with the single sign-on)
METHOD_PASSWORD = "password"  # noqa: S105 (a sign-in method's name, not a password)
METHOD_TOTP = "password+totp"
METHOD_RECOVERY = "password+recovery"
METHOD_PASSKEY = "passkey"
PASSED_METHODS = frozenset({METHOD_TOTP, METHOD_RECOVERY, METHOD_PASSKEY})
SSO_PREFIX = "sso:"

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4
DEVICE_NAME = "Authenticator app"


class State(StrEnum):
    """Where a signed-in session stands with the second factor."""

    VERIFIED = "verified"  # passed a second factor (or signed in through SSO)
    CODE_REQUIRED = "code_required"  # enrolled; the code step has not passed yet
    ENROLMENT_REQUIRED = "enrolment_required"  # GATEHOUSE_REQUIRE_MFA covers a user with no device
    NOT_REQUIRED = "not_required"  # no device, and not covered: a password is enough


BLOCKING_STATES = frozenset({State.CODE_REQUIRED, State.ENROLMENT_REQUIRED})


class InvalidCode(Exception):
    """The code is not the device's current code nor an unused recovery code."""


class EnrolmentError(Exception):
    """Enrolment cannot proceed (message says why)."""


def method_passed(method: str | None) -> bool:
    return bool(method) and (method in PASSED_METHODS or str(method).startswith(SSO_PREFIX))


def session_method(session: Mapping[str, Any]) -> str:
    return str(session.get(AUTH_METHOD) or METHOD_PASSWORD)


def requirement_covers(user: Any) -> bool:
    """Whether GATEHOUSE_REQUIRE_MFA obliges this user to use a second factor."""
    mode = settings.GATEHOUSE_REQUIRE_MFA
    if mode == "off" or not getattr(user, "is_authenticated", False):
        return False
    if mode == "all" or user.is_superuser:
        return True
    # "editors": whoever holds any accesscontrol permission beyond viewing.
    return (
        Permission.objects.filter(content_type__app_label="accesscontrol")
        .exclude(codename__startswith="view_")
        .filter(Q(user=user) | Q(group__user=user))
        .exists()
    )


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def state(*, user: Any, session: Mapping[str, Any]) -> State:
    if method_passed(session.get(AUTH_METHOD)):
        return State.VERIFIED
    if confirmed_device(user) is not None:
        return State.CODE_REQUIRED
    if requirement_covers(user):
        return State.ENROLMENT_REQUIRED
    return State.NOT_REQUIRED


def status(*, user: Any, session: Mapping[str, Any]) -> dict[str, Any]:
    """What the console needs to know (never a secret)."""
    device = confirmed_device(user)
    return {
        "state": state(user=user, session=session).value,
        "method": session_method(session),
        "enrolled": device is not None,
        "required": requirement_covers(user),
        "recovery_codes_left": RecoveryCode.objects.filter(user=user, used_at=None).count()
        if device
        else 0,
    }


# --- codes ------------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _totp_matches(device: TOTPDevice, code: str) -> bool:
    digits = _normalise(code)
    # verify_token refuses a code already used (last_t): no replay within its window.
    return digits.isdigit() and len(digits) == device.digits and bool(device.verify_token(digits))


def use_code(*, user: Any, code: str) -> str:
    """Check a sign-in code: the device's TOTP code, else an unused recovery code (used up
    by this call). Returns the session method it proves; raises InvalidCode."""
    device = confirmed_device(user)
    if device is None:
        raise InvalidCode("No second factor is enrolled.")
    if _totp_matches(device, code):
        return METHOD_TOTP
    used = RecoveryCode.objects.filter(
        user=user, code_hash=_recovery_hash(code), used_at=None
    ).update(used_at=timezone.now())
    if used:
        return METHOD_RECOVERY
    raise InvalidCode("That code is not valid.")


# --- enrolment ----------------------------------------------------------------------------


def start_enrolment(*, user: Any) -> TOTPDevice:
    """A new unconfirmed device (replacing any earlier unconfirmed one). The caller has
    checked that the user may enrol (no device yet, or a valid code for re-enrolment)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device: TOTPDevice = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def pending_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def enrolment_details(device: TOTPDevice) -> dict[str, str]:
    """The secret (base32, to type in by hand) and its otpauth:// URI: unconfirmed only."""
    if device.confirmed:
        raise EnrolmentError("A confirmed device's secret is never shown again.")
    from base64 import b32encode

    return {
        "secret": b32encode(device.bin_key).decode().rstrip("="),
        "otpauth_uri": device.config_url,
    }


def qr_svg(device: TOTPDevice) -> bytes:
    """The otpauth:// URI as a QR code, SVG rendered here (segno): no script, no markup
    from anywhere else."""
    if device.confirmed:
        raise EnrolmentError("A confirmed device's secret is never shown again.")
    out = io.BytesIO()
    segno.make(device.config_url, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)
    return out.getvalue()


def confirm_enrolment(*, user: Any, code: str, requester: Requester) -> list[str]:
    """Activate the pending device with its current code; it replaces any earlier device
    and the recovery codes are renewed. Returns the new recovery codes (shown once)."""
    device = pending_device(user)
    if device is None:
        raise EnrolmentError("Start the enrolment first.")
    if not _totp_matches(device, code):
        raise InvalidCode("That code is not valid. Check the clock of the device.")
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        replaced = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk)
        re_enrolled = replaced.exists()
        replaced.delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_recovery_hash(code_text)) for code_text in codes
        )
        record_audit_event(
            requester=requester,
            action="auth.second_factor_enrolled",
            subject=f"user:{user.get_username()}",
            after={"device": "totp", "recovery_codes": len(codes), "replaced": re_enrolled},
            reason="Re-enrolled an authenticator app."
            if re_enrolled
            else "Enrolled an authenticator app.",
        )
    return codes


def reset(*, user: Any, requester: Requester, reason: str = "") -> int:
    """Remove the user's devices and recovery codes (an administrator's break-glass): the
    user enrols again at the next sign-in when GATEHOUSE_REQUIRE_MFA covers them.
    Returns how many devices were removed."""
    with transaction.atomic():
        devices, _ = TOTPDevice.objects.filter(user=user).delete()
        codes, _ = RecoveryCode.objects.filter(user=user).delete()
        record_audit_event(
            requester=requester,
            action="auth.second_factor_reset",
            subject=f"user:{user.get_username()}",
            before={"devices": devices, "recovery_codes": codes},
            reason=reason or "Second factor reset by an administrator.",
        )
    return int(devices)
