"""Session authentication for the API, and the login-lockout answer.

- `SessionAuthentication` is DRF's (Django session + CSRF on unsafe methods for signed-in
  users) but names an auth scheme, so DRF answers an anonymous request with 401, not 403.
- It also refuses a change (any unsafe method) from a session that has not passed the
  second factor (accesscontrol.second_factor.state: a device whose code step is pending, or
  GATEHOUSE_REQUIRE_MFA covering a user without one): 403 `second_factor_required`. Reads
  stay allowed (they change nothing and the viewer is on the allowlist already). Views of
  the sign-in steps themselves (sign-in, sign-out, the code step, enrolment) opt out with
  `second_factor_exempt = True`. Other authentication classes (API tokens) are not subject
  to it: the check lives here, in the session's class, the one place every session request
  passes.
- `enforce_csrf` runs the same CSRF check for the one unsafe endpoint anonymous users
  reach: the login form must not be forgeable either (login CSRF).
- `lockout_response` is django-axes' AXES_LOCKOUT_CALLABLE: a locked-out sign-in gets the
  API's error shape with status 429, `retry_after_seconds` and a `Retry-After` header,
  for either limit (per username and address, or per account: accesscontrol.signin).
"""

import math
from datetime import timedelta
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from accesscontrol import second_factor
from accesscontrol.clientip import lockout_key
from accesscontrol.signin import account_locked_until


class SecondFactorRequired(exceptions.PermissionDenied):
    default_code = "second_factor_required"
    default_detail = "Confirm your sign-in with your second factor before changing anything."


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None or request.method in permissions.SAFE_METHODS:
            return result
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if getattr(view, "second_factor_exempt", False):
            return result
        session = request._request.session
        current = second_factor.state(user=result[0], session=session)
        if current in second_factor.BLOCKING_STATES:
            detail = (
                "Set up a second factor (an authenticator app) before changing anything."
                if current is second_factor.State.ENROLMENT_REQUIRED
                else SecondFactorRequired.default_detail
            )
            raise SecondFactorRequired(detail)
        return result

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer 401 for "not signed in"; the exception handler drops
        # the header again (there is no browser auth dialog to trigger).
        return "Session"

    def enforce_csrf(self, request: Request) -> None:
        # Checked on the Django request: the check may read a form token from request.POST,
        # and on DRF's wrapper that runs DRF's parsers (a 415 for a bodiless form post).
        super().enforce_csrf(getattr(request, "_request", request))


def enforce_csrf(request: Request) -> None:
    """Raise PermissionDenied unless the request passes Django's CSRF check."""
    SessionAuthentication().enforce_csrf(request)


class SessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


def _address_lock_seconds(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """Seconds until the newest failure for this username and address leaves the window
    (0: the address is not what locks it)."""
    cool_off = get_cool_off(request)
    ip = getattr(request, "axes_ip_address", None) or lockout_key(request)
    username = get_client_username(request, credentials)
    last = AccessAttempt.objects.filter(username=username, ip_address=ip).aggregate(
        last=Max("attempt_time")
    )["last"]
    if last is None:
        return 0
    remaining: timedelta = last + cool_off - timezone.now()
    return max(0, math.ceil(remaining.total_seconds()))


def _account_lock_seconds(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    until = account_locked_until(username=get_client_username(request, credentials))
    if until is None:
        return 0
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def retry_after(request: HttpRequest, credentials: dict[str, Any] | None = None) -> tuple[int, str]:
    """(seconds until sign-in is possible again, "address" or "account": which limit)."""
    if get_cool_off(request) is None:  # permanent lockout: an admin must reset it
        return 0, "address"
    address = _address_lock_seconds(request, credentials)
    account = _account_lock_seconds(request, credentials)
    if account > address:
        return account, "account"
    if address:
        return address, "address"
    return math.ceil(get_cool_off(request).total_seconds()), "address"


def retry_after_seconds(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    return retry_after(request, credentials)[0]


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    # Imported here: api.exceptions imports rest_framework.views, which imports this module.
    from api.exceptions import error_body

    if original_response is not None and getattr(original_response, "gatehouse_lockout", False):
        return original_response  # the login view already answered with this shape
    seconds, scope = retry_after(request, credentials)
    if seconds:
        minutes = math.ceil(seconds / 60)
        who = "for this account" if scope == "account" else "from your address for this user"
        message = (
            f"Too many failed sign-ins {who}. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
    else:
        message = "Too many failed sign-ins: ask an administrator to unlock the account."
    response = JsonResponse(
        error_body("locked_out", message, retry_after_seconds=seconds), status=429
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    response.gatehouse_lockout = True  # type: ignore[attr-defined]  # our own marker
    return response
