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
    `auth_method` is how the user's session signed in (accesscontrol.second_factor), which
    every event records.
    `request_id` is the HTTP request's id (X-Request-Id), "" outside a request."""

    user: Any = None
    ip: Address | None = None
    user_agent: str = ""
    name: str = ""
    auth_method: str = ""
    request_id: str = ""

    def __post_init__(self) -> None:
        if self.ip is not None and not isinstance(self.ip, Address):
            try:
                address: Address | None = ipaddress.ip_address(self.ip)
            except ValueError:
                address = None
            object.__setattr__(self, "ip", address)

    @property
    def principal(self) -> Any:
        """Who acts, when signed in: a user, or an API token's principal (a stand-in
        marked `is_api_token`, with the token's role; see api/tokens_auth.py)."""
        user = self.user
        return user if user is not None and getattr(user, "is_authenticated", False) else None

    @property
    def authenticated_user(self) -> Any:
        """The signed-in user row, or None (anonymous, the system, the command line, an API
        token: a token is no user row, so it is never stored as one)."""
        principal = self.principal
        return None if getattr(principal, "is_api_token", False) else principal

    @property
    def is_superuser(self) -> bool:
        principal = self.principal
        return bool(principal and principal.is_superuser)

    @property
    def actor_name(self) -> str:
        """The audit trail's name: the username, "token:<name>", or `name`."""
        principal = self.principal
        return principal.get_username() if principal else self.name or "system"


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
        actor_name=requester.actor_name[:150] if requester else "system",
        action=action,
        subject=subject[:255],
        before=before,
        after=after,
        reason=reason,
        request_ip=str(requester.ip) if requester and requester.ip else None,
        user_agent=(requester.user_agent if requester else "")[:512],
        auth_method=(requester.auth_method if requester and requester.principal else "")[:64],
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
