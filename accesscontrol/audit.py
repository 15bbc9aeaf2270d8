"""Who asked (`Requester`) and the audit trail's events.

Every change and every sync is recorded as an `AuditEvent` naming who made it, from which
address and with which client. Events are only ever inserted (the model refuses updates
and deletes); the builders here make them, callers save one (`record_audit_event`) or
bulk-insert many (`audit_event` unsaved).
"""

from __future__ import annotations

import getpass
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.requestlog import REQUEST_ID_MAX, current_request_id

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Requester:
    """Who asks and from where. user None means the system or the command line; `name`
    then says which (e.g. "cli:alice@host", see `command_line_requester`). `ip` is the
    viewer's parsed address (a string is parsed; anything unparsable is no address).
    `request_id` is the HTTP request's id (X-Request-Id), "" outside a request."""

    user: Any = None
    ip: Address | None = None
    user_agent: str = ""
    name: str = ""
    request_id: str = ""

    def __post_init__(self) -> None:
        if self.ip is not None and not isinstance(self.ip, Address):
            try:
                address: Address | None = ipaddress.ip_address(self.ip)
            except ValueError:
                address = None
            object.__setattr__(self, "ip", address)

    @property
    def authenticated_user(self) -> Any:
        """The signed-in user, or None (anonymous, the system, the command line)."""
        user = self.user
        return user if user is not None and getattr(user, "is_authenticated", False) else None

    @property
    def is_superuser(self) -> bool:
        user = self.authenticated_user
        return bool(user and user.is_superuser)


def command_line_requester(command: str) -> Requester:
    """A management command's requester: the operating-system user and host that ran it,
    so the audit trail attributes break-glass and other CLI actions to a person."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        who = "unknown"
    return Requester(name=f"cli:{who}@{socket.gethostname()}"[:150], user_agent=command)


def audit_event(
    *,
    requester: Requester | None,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    """An unsaved event (for bulk inserts)."""
    user = requester.authenticated_user if requester else None
    return AuditEvent(
        actor=user,
        actor_name=user.get_username() if user else (requester and requester.name) or "system",
        action=action,
        subject=subject[:255],
        before=before,
        after=after,
        reason=reason,
        request_ip=str(requester.ip) if requester and requester.ip else None,
        user_agent=(requester.user_agent if requester else "")[:512],
        # The requester's, else the request being served (a sync a request started with
        # no requester still belongs to that request's log lines).
        request_id=((requester and requester.request_id) or current_request_id())[:REQUEST_ID_MAX],
    )


def record_audit_event(**fields: Any) -> AuditEvent:
    """`audit_event` (same keyword arguments), saved."""
    event = audit_event(**fields)
    event.save()
    return event


def network_snapshot(network: AllowedNetwork) -> dict[str, Any]:
    return {
        "cidr": network.cidr,
        "ip_version": network.ip_version,
        "label": network.label,
        "note": network.note,
        "expires_at": network.expires_at.isoformat() if network.expires_at else None,
        "source": network.source,
        "needs_review": network.needs_review,
    }
