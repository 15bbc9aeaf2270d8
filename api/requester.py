"""Who is asking: one `Requester` per request, for views, serializers (`covers_you`) and
the exception handler (the 409 bodies), holding the viewer's parsed address.

Memoised on the Django request (DRF's Request wraps it, so both share it). The viewer's
address is resolved once; only the user can change within a request (sign-in, sign-out),
and then the memo is renewed with the new user and the same address. So is the sign-in
method (`auth_method`, recorded on every audit event), which the code step changes: for a
session it is the session's `gatehouse_auth_method`; another authentication class (e.g. an
API token) names its own with an `audit_method` attribute.
"""

from dataclasses import replace

from django.http import HttpRequest
from rest_framework.request import Request

from accesscontrol import second_factor
from accesscontrol.audit import Requester
from accesscontrol.clientip import viewer_address
from api.authentication import SessionAuthentication

USER_AGENT_MAX = 512  # AuditEvent.user_agent's length
_MEMO = "_gatehouse_requester"


def requester_for(request: Request | HttpRequest) -> Requester:
    django_request = getattr(request, "_request", request)
    user = request.user if request.user.is_authenticated else None
    method = auth_method(request) if user is not None else ""
    requester = getattr(django_request, _MEMO, None)
    if requester is None:
        requester = Requester(
            user=user,
            ip=viewer_address(django_request),
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
            auth_method=method,
            request_id=getattr(django_request, "request_id", ""),
        )
    elif requester.user is not user or requester.auth_method != method:
        requester = replace(requester, user=user, auth_method=method)
    setattr(django_request, _MEMO, requester)
    return requester


def auth_method(request: Request | HttpRequest) -> str:
    """How the signed-in user of this request signed in."""
    authenticator = getattr(request, "successful_authenticator", None)
    if authenticator is not None and not isinstance(authenticator, SessionAuthentication):
        return str(getattr(authenticator, "audit_method", type(authenticator).__name__))
    # The session's (also right after a view signed the user in, before any authenticator ran).
    django_request = getattr(request, "_request", request)
    session = getattr(django_request, "session", None)
    return second_factor.session_method(session) if session is not None else ""
