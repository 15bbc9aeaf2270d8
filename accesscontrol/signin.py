"""Sign-in throttling beyond django-axes' defaults, and the audit trail of failed sign-ins.

Two limits, each answered 429 (api.authentication.lockout_response):

1. per username and address (axes itself, AXES_LOCKOUT_PARAMETERS): GATEHOUSE_LOGIN_FAILURE_
   LIMIT failures lock that pair for the cool-off. The "address" is
   accesscontrol.clientip.lockout_key: an IPv4 address or an IPv6 /64, so walking through
   the addresses of one's own /64 does not reset the count.
2. per account, across all addresses: GATEHOUSE_ACCOUNT_FAILURE_LIMIT failures within
   GATEHOUSE_ACCOUNT_FAILURE_WINDOW lock the username for the cool-off, whoever asks.

Why a second counter and not `AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"],
"username"]`: axes compares every parameter set with one limit and one cool-off (the
attempts' failures are summed per matching set), so a per-account limit that way would
either be 5 (any five typos anywhere lock the account) or make the per-address limit 20.
Instead `GatehouseAxesHandler` keeps axes' handler and adds the account check, counted from
axes' own failure log (AXES_ENABLE_ACCESS_FAILURE_LOG: one row per real failure, indexed by
username) with one query: the account's newest LIMIT failures. Because it is axes' handler,
the Django admin's sign-in gets both limits too.

Audit (`record_sign_in_failure`): the username someone typed is recorded only when such a
user exists (people type passwords into the username box), else "unknown user"; repeats
from one address (lockout key) for one subject are one event per cool-off window whose
`after` holds the count. That event's count is the one value the app ever changes on an
audit event (a counter, updated under a row lock): the alternative, an event per attempt,
lets anyone fill the log.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessFailureLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accesscontrol.audit import Requester, record_audit_event
from accesscontrol.models import AuditEvent

log = logging.getLogger(__name__)

UNKNOWN_USER = "unknown user"
FAILED = "auth.login_failed"


def account_locked_until(*, username: str | None, now: datetime | None = None) -> datetime | None:
    """When the per-account lock on `username` ends, or None when it is not locked."""
    limit = settings.GATEHOUSE_ACCOUNT_FAILURE_LIMIT
    if not username or limit <= 0:
        return None
    times = list(
        AccessFailureLog.objects.filter(username=username)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)[:limit]
    )
    if len(times) < limit or times[0] - times[-1] > settings.GATEHOUSE_ACCOUNT_FAILURE_WINDOW:
        return None
    until = times[0] + settings.AXES_COOLOFF_TIME
    return until if until > (now or timezone.now()) else None


# Set on the request by the code step once the second factor passed: only then does a
# successful sign-in clear the user's failures (see reset_user_attempts).
SECOND_FACTOR_PASSED = "gatehouse_second_factor_passed"


class GatehouseAxesHandler(AxesDatabaseHandler):  # type: ignore[misc]  # axes ships no types
    """axes' database handler plus the per-account limit (see the module docstring), and
    no reset by a password alone for a user with a second factor."""

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        # axes clears the failures at every sign-in (AXES_RESET_ON_SUCCESS). For a user with
        # a device the password is only the first step: clearing there would give whoever
        # knows the password a fresh allowance of code guesses per sign-in. The code step
        # clears them (accesscontrol.second_factor; api.views.second_factor).
        if not getattr(request, SECOND_FACTOR_PASSED, False):
            username = get_client_username(request, credentials)
            if (
                username
                and TOTPDevice.objects.filter(user__username=username, confirmed=True).exists()
            ):
                return 0
        count: int = super().reset_user_attempts(request, credentials)
        return count

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return account_locked_until(username=get_client_username(request, credentials)) is not None

    def user_login_failed(
        self,
        sender: object,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if account_locked_until(username=get_client_username(request, credentials)):
            # This failure reached the account's limit: the lockout starts now. (axes' own
            # markers on the request, and ours, which HttpRequest does not declare.)
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            request.gatehouse_account_locked = True  # type: ignore[attr-defined]


def audit_subject(username: str) -> str:
    """`user:<name>` for an existing user; what someone typed otherwise stays unrecorded."""
    user_model = get_user_model()
    exists = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).exists()
    return f"user:{username}" if exists else UNKNOWN_USER


def record_sign_in_failure(
    *, requester: Requester, username: str, source: str, refused: bool = False
) -> AuditEvent:
    """One auth.login_failed event per subject and source address per cool-off window,
    counting the failures (and the attempts refused while locked out) in `after`."""
    subject = audit_subject(username)
    # One log line per attempt, naming an existing user and the viewer address (so an
    # operator sees who is being attacked, from where), never what an unknown user typed.
    log.warning(
        "Sign-in %s for %s from %s",
        "refused (locked out)" if refused else "failed",
        subject,
        requester.ip or "unknown address",
    )
    now = timezone.now()
    key = "refused_while_locked_out" if refused else "failures"
    with transaction.atomic():
        event = (
            AuditEvent.objects.select_for_update()
            .filter(
                action=FAILED,
                subject=subject,
                after__source=source,
                created_at__gt=now - settings.AXES_COOLOFF_TIME,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if event is None:
            return record_audit_event(
                requester=requester,
                action=FAILED,
                subject=subject,
                after={"source": source, "failures": 0, "refused_while_locked_out": 0, key: 1},
                reason="Wrong username or password (repeats within "
                f"{_minutes(settings.AXES_COOLOFF_TIME)} are counted here).",
            )
        counted: dict[str, Any] = event.after or {}  # matched on after__source: never null
        after = {**counted, key: counted.get(key, 0) + 1, "last_at": now.isoformat()}
        # The counter is the only field the app updates on an audit event (module docstring).
        AuditEvent.objects.filter(pk=event.pk).update(after=after)
        event.after = after
        return event


def _minutes(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
