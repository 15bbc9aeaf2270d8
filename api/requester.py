"""Who is asking: one `Requester` per request, for views, serializers (`covers_you`) and
the exception handler (the 409 bodies), holding the viewer's parsed address.

Memoised on the Django request (DRF's Request wraps it, so both share it). The viewer's
address is resolved once; only the user can change within a request (sign-in, sign-out),
and then the memo is renewed with the new user and the same address.
"""

from dataclasses import replace

from rest_framework.request import Request

from accesscontrol.audit import Requester
from accesscontrol.clientip import viewer_address

USER_AGENT_MAX = 512  # AuditEvent.user_agent's length
_MEMO = "_gatehouse_requester"


def requester_for(request: Request) -> Requester:
    django_request = getattr(request, "_request", request)
    user = request.user if request.user.is_authenticated else None
    requester = getattr(django_request, _MEMO, None)
    if requester is None:
        requester = Requester(
            user=user,
            ip=viewer_address(django_request),
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
            request_id=getattr(django_request, "request_id", ""),
        )
    elif requester.user is not user:
        requester = replace(requester, user=user)
    setattr(django_request, _MEMO, requester)
    return requester
