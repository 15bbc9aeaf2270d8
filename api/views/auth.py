"""Sign-in for the console: session state, login (throttled by django-axes), logout.

Login is CSRF-protected although the user is anonymous (login CSRF would sign a victim
into an attacker's account). Every outcome is audited: auth.login, auth.login_failed
(aggregated per address and cool-off window, the username only when the user exists: see
accesscontrol.signin), auth.lockout, auth.logout.

Sign-in is two steps for a user with a second factor: the password signs the session in
with the method "password", which may read but not change anything until the code step
(api.views.second_factor) passes. The session body says where it stands (`second_factor`).
"""

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpResponse
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import oidc, second_factor, signin
from accesscontrol.audit import record_audit_event
from accesscontrol.clientip import lockout_key
from accesscontrol.oidc_config import PASSWORD_OFF, PASSWORD_ON
from api.authentication import enforce_csrf, lockout_response
from api.requester import requester_for
from api.serializers import (
    ErrorSerializer,
    LockedOutErrorSerializer,
    LoginSerializer,
    LogoutSerializer,
    SessionSerializer,
    UserSerializer,
)
from api.views.oidc import end_session_url, take_error

SSO_START_URL = "/api/auth/oidc/start"


def session_body(request: Request) -> dict[str, Any]:
    user = request.user
    signed_in = user.is_authenticated
    config = oidc.configured()
    return {
        "authenticated": signed_in,
        "user": UserSerializer(user).data if signed_in else None,
        "viewer_ip": str(requester_for(request).ip),
        # How the console offers sign-in: single sign-on, and whether the password form
        # is shown (GATEHOUSE_PASSWORD_LOGIN: on, superusers = break-glass, off).
        "sign_in": {
            "password": settings.GATEHOUSE_PASSWORD_LOGIN,
            "sso": {"provider_name": config.provider_name, "start_url": SSO_START_URL}
            if config
            else None,
        },
        "second_factor": second_factor.status(user=user, session=request._request.session)
        if signed_in
        else None,
    }


class SessionView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_session",
        summary="Who is signed in; sets the csrftoken cookie",
        responses={200: SessionSerializer},
    )
    def get(self, request: Request) -> Response:
        get_token(request)  # sets the csrftoken cookie the console sends back as X-CSRFToken
        # A single sign-on refusal, shown once on the sign-in screen (api.views.oidc).
        return Response({**session_body(request), "sso_error": take_error(request._request)})


class LoginView(APIView):
    permission_classes = [AllowAny]
    second_factor_exempt = True  # signing in again is how a half-signed-in session restarts

    @extend_schema(
        operation_id="auth_login",
        summary="Sign in with username and password",
        request=LoginSerializer,
        responses={
            200: SessionSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Missing or malformed fields."),
            401: OpenApiResponse(ErrorSerializer, description="invalid_credentials"),
            403: OpenApiResponse(ErrorSerializer, description="CSRF check failed."),
            429: OpenApiResponse(
                LockedOutErrorSerializer,
                description="locked_out: too many failures for this user from this address "
                "(IPv6: its /64), or for this account from anywhere.",
            ),
        },
    )
    def post(self, request: Request) -> HttpResponse:  # a lockout answers with a JsonResponse
        enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        password = serializer.validated_data["password"]
        credentials = {"username": username}
        # axes flags the Django request (the middleware reads it), not DRF's wrapper.
        django_request = request._request
        requester = requester_for(request)

        source = lockout_key(django_request)

        if not AxesProxyHandler.is_allowed(django_request, credentials):
            signin.record_sign_in_failure(
                requester=requester, username=username, source=source, refused=True
            )
            return lockout_response(django_request, None, credentials)

        if settings.GATEHOUSE_PASSWORD_LOGIN == PASSWORD_OFF:
            raise exceptions.PermissionDenied(
                "Password sign-in is turned off: sign in with single sign-on.",
                code="password_login_off",
            )
        user = authenticate(django_request, username=username, password=password)
        if user is None:
            signin.record_sign_in_failure(requester=requester, username=username, source=source)
            if getattr(django_request, "axes_locked_out", False):
                # This failure reached a limit: the lockout starts now.
                account = getattr(django_request, "gatehouse_account_locked", False)
                record_audit_event(
                    requester=requester,
                    action="auth.lockout",
                    subject=signin.audit_subject(username),
                    after={"source": source, "scope": "account" if account else "address"},
                    reason="Too many failed sign-ins for this account."
                    if account
                    else "Too many failed sign-ins from this address.",
                )
                return lockout_response(django_request, None, credentials)
            raise exceptions.AuthenticationFailed(
                "Wrong username or password."
                if settings.GATEHOUSE_PASSWORD_LOGIN == PASSWORD_ON
                else "Wrong username or password. (Password sign-in is for superusers only, "
                "as break-glass: everyone else signs in with single sign-on.)",
                code="invalid_credentials",
            )

        login(django_request, user)
        # The password step only: the code step (if the user has a device) upgrades it.
        django_request.session[second_factor.AUTH_METHOD] = second_factor.METHOD_PASSWORD
        request.user = user  # DRF's cached user is still the anonymous one
        record_audit_event(
            requester=requester_for(request), action="auth.login", subject=f"user:{username}"
        )
        return Response(session_body(request))


class LogoutView(APIView):
    permission_classes = [AllowAny]
    second_factor_exempt = True

    @extend_schema(
        operation_id="auth_logout",
        summary="Sign out (no-op when not signed in)",
        request=None,
        responses={
            200: OpenApiResponse(
                LogoutSerializer,
                description="Signed out of a single sign-on session: `end_session_url` ends "
                "the provider's session too (the console follows it).",
            ),
            204: OpenApiResponse(description="Signed out."),
            403: OpenApiResponse(ErrorSerializer, description="CSRF check failed."),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_csrf(request)
        end_session = end_session_url(request._request) if request.user.is_authenticated else None
        if request.user.is_authenticated:
            record_audit_event(
                requester=requester_for(request),
                action="auth.logout",
                subject=f"user:{request.user.get_username()}",
            )
        logout(request._request)
        if end_session:
            return Response({"end_session_url": end_session})
        return Response(status=status.HTTP_204_NO_CONTENT)
