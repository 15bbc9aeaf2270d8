"""The second sign-in step and TOTP enrolment (accesscontrol.second_factor holds the rules).

- `GET  /api/auth/second-factor`: where this session stands (never a secret).
- `POST /api/auth/second-factor/verify {code}`: the code step after the password; a TOTP
  code or a recovery code. A wrong code is a failed sign-in for django-axes, so repeated
  wrong codes lock the user out from that address (and the account) exactly like wrong
  passwords; the lockout also signs the half-signed-in session out.
- `POST /api/auth/second-factor/totp {code?}`: start enrolment (a new secret for this
  session only). Replacing a confirmed device needs a valid code (counted like the code step).
- `GET  /api/auth/second-factor/totp/qr.svg`: that secret's QR code as SVG, for this session
  only and only until it is confirmed.
- `POST /api/auth/second-factor/totp/confirm {code}`: activate it; answers the new recovery
  codes, once.

All are exempt from the second-factor check of api.authentication (they are how a session
passes it) but not from CSRF: SessionAuthentication enforces it on their POSTs.
"""

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import second_factor, signin
from accesscontrol.audit import record_audit_event
from accesscontrol.clientip import lockout_key
from api.authentication import lockout_response
from api.exceptions import error_body
from api.requester import requester_for
from api.serializers import (
    CodeSerializer,
    ErrorSerializer,
    LockedOutErrorSerializer,
    OptionalCodeSerializer,
    RecoveryCodesSerializer,
    SecondFactorStatusSerializer,
    SessionSerializer,
    TotpEnrolmentSerializer,
)
from api.views.auth import session_body

PENDING_DEVICE = "gatehouse_totp_pending"  # session key: the device this session enrols

INVALID_CODE = OpenApiResponse(ErrorSerializer, description="invalid_code (fields.code).")
LOCKED_OUT = OpenApiResponse(
    LockedOutErrorSerializer, description="locked_out: too many wrong codes or passwords."
)


def _invalid_code(message: str) -> Response:
    return Response(error_body("invalid_code", message, {"code": [message]}), status=400)


class _Rejected(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _check_code(request: Request, code: str) -> str:
    """The sign-in method `code` proves for the signed-in user, counted by django-axes:
    raises _Rejected with the answer (400 invalid_code, or 429 locked_out) otherwise."""
    user = request.user
    django_request = request._request
    credentials = {"username": user.get_username()}
    requester = requester_for(request)
    source = lockout_key(django_request)
    if not AxesProxyHandler.is_allowed(django_request, credentials):
        signin.record_sign_in_failure(
            requester=requester, username=user.get_username(), source=source, refused=True
        )
        logout(django_request)
        raise _Rejected(lockout_response(django_request, None, credentials))
    try:
        method = second_factor.use_code(user=user, code=code)
    except second_factor.InvalidCode:
        # A failed sign-in as far as axes is concerned: the same counters as a wrong password.
        user_login_failed.send(sender=__name__, credentials=credentials, request=django_request)
        signin.record_sign_in_failure(
            requester=requester, username=user.get_username(), source=source
        )
        if getattr(django_request, "axes_locked_out", False):
            account = getattr(django_request, "gatehouse_account_locked", False)
            record_audit_event(
                requester=requester,
                action="auth.lockout",
                subject=f"user:{user.get_username()}",
                after={"source": source, "scope": "account" if account else "address"},
                reason="Too many wrong sign-in codes.",
            )
            logout(django_request)
            raise _Rejected(lockout_response(django_request, None, credentials)) from None
        raise _Rejected(
            _invalid_code("That code is not valid. Enter the current code or a recovery code.")
        ) from None
    # Only now may axes forget this user's failures from this address (signin.py).
    setattr(django_request, signin.SECOND_FACTOR_PASSED, True)
    AxesProxyHandler.get_implementation().reset_user_attempts(django_request, credentials)
    return method


def _passed(request: Request, method: str) -> None:
    """Mark the session as having passed the second factor, under a new session key."""
    session = request._request.session
    session.cycle_key()
    session[second_factor.AUTH_METHOD] = method


class SecondFactorView(APIView):
    permission_classes = [IsAuthenticated]
    second_factor_exempt = True

    @extend_schema(
        operation_id="second_factor_status",
        summary="Where this session stands with the second factor",
        responses={200: SecondFactorStatusSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(second_factor.status(user=request.user, session=request._request.session))


class VerifyView(APIView):
    permission_classes = [IsAuthenticated]
    second_factor_exempt = True

    @extend_schema(
        operation_id="second_factor_verify",
        summary="The code step: a TOTP code or a one-time recovery code",
        request=CodeSerializer,
        responses={200: SessionSerializer, 400: INVALID_CODE, 429: LOCKED_OUT},
    )
    def post(self, request: Request) -> HttpResponse:
        serializer = CodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if second_factor.confirmed_device(request.user) is None:
            return _invalid_code("No second factor is enrolled for this account.")
        try:
            method = _check_code(request, serializer.validated_data["code"])
        except _Rejected as rejected:
            return rejected.response
        _passed(request, method)
        left = second_factor.status(user=request.user, session=request._request.session)
        record_audit_event(
            requester=requester_for(request),
            action="auth.second_factor",
            subject=f"user:{request.user.get_username()}",
            after={"method": method, "recovery_codes_left": left["recovery_codes_left"]},
        )
        return Response(session_body(request))


class TotpEnrolView(APIView):
    permission_classes = [IsAuthenticated]
    second_factor_exempt = True

    @extend_schema(
        operation_id="second_factor_totp_start",
        summary="Start enrolling an authenticator app (a valid code replaces an existing one)",
        request=OptionalCodeSerializer,
        responses={201: TotpEnrolmentSerializer, 400: INVALID_CODE, 429: LOCKED_OUT},
    )
    def post(self, request: Request) -> HttpResponse:
        serializer = OptionalCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code = serializer.validated_data.get("code", "")
        if second_factor.confirmed_device(request.user) is not None:
            if not code:
                return _invalid_code(
                    "Enter a current code from your authenticator app (or a recovery code) "
                    "to replace it."
                )
            try:
                _check_code(request, code)
            except _Rejected as rejected:
                return rejected.response
        device = second_factor.start_enrolment(user=request.user)
        request._request.session[PENDING_DEVICE] = device.pk
        body: dict[str, Any] = {
            **second_factor.enrolment_details(device),
            "qr_svg_url": reverse("second-factor-totp-qr"),
        }
        return Response(body, status=201)


def _pending(request: Request) -> Any:
    device = second_factor.pending_device(request.user)
    if device is None or request._request.session.get(PENDING_DEVICE) != device.pk:
        return None
    return device


class TotpQrView(APIView):
    permission_classes = [IsAuthenticated]
    second_factor_exempt = True

    @extend_schema(
        operation_id="second_factor_totp_qr",
        summary="The QR code of the enrolment this session started (SVG)",
        responses={
            (200, "image/svg+xml"): OpenApiResponse(str),
            404: OpenApiResponse(ErrorSerializer, description="No enrolment in progress."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        device = _pending(request)
        if device is None:
            return Response(
                error_body("not_found", "No enrolment in progress in this session."), status=404
            )
        response = HttpResponse(second_factor.qr_svg(device), content_type="image/svg+xml")
        # It encodes the secret: never cached; and as a document it may run nothing.
        response["Cache-Control"] = "no-store"
        response["Content-Security-Policy"] = "default-src 'none'"
        return response


class TotpConfirmView(APIView):
    permission_classes = [IsAuthenticated]
    second_factor_exempt = True

    @extend_schema(
        operation_id="second_factor_totp_confirm",
        summary="Activate the app with its current code; answers the recovery codes, once",
        request=CodeSerializer,
        responses={200: RecoveryCodesSerializer, 400: INVALID_CODE},
    )
    def post(self, request: Request) -> Response:
        serializer = CodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if _pending(request) is None:
            return _invalid_code("Start the enrolment again: none is in progress in this session.")
        try:
            codes = second_factor.confirm_enrolment(
                user=request.user,
                code=serializer.validated_data["code"],
                requester=requester_for(request),
            )
        except second_factor.InvalidCode:
            # Not counted towards the lockout: the secret was issued to this very session.
            return _invalid_code("That code is not valid. Check the device's clock and try again.")
        request._request.session.pop(PENDING_DEVICE, None)
        # Proving the new device is a second factor passed.
        setattr(request._request, signin.SECOND_FACTOR_PASSED, True)
        _passed(request, second_factor.METHOD_TOTP)
        return Response({"recovery_codes": codes, "session": session_body(request)})
