"""What every API view shares: who is asking (for audit and the self-lockout guard)."""

from api.requester import requester_for

__all__ = ["requester_for"]
