"""What every API view shares: who is asking (for audit and the self-lockout guard)."""

from rest_framework.request import Request

from accesscontrol.clientip import viewer_ip
from accesscontrol.services import Requester

USER_AGENT_MAX = 512  # AuditEvent.user_agent's length


def requester_for(request: Request) -> Requester:
    user = request.user if request.user.is_authenticated else None
    return Requester(
        user=user,
        ip=viewer_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
    )
