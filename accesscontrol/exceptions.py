"""The allowlist's own errors. Input errors are django ValidationError (field dict);
these are the refusals a person must decide about, and WAF failures translated from
botocore (never raw botocore text in `str()`: that goes to the log)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accesscontrol.models import AllowedNetwork


class AccessControlError(Exception):
    """Base of every allowlist error."""


class NetworkConflict(AccessControlError):
    def __init__(self, existing: AllowedNetwork):
        self.existing = existing
        super().__init__(
            f"{existing.cidr} is already in the allowlist as {existing.label!r} "
            f"({existing.status})."
        )


class SelfLockout(AccessControlError):
    def __init__(self, viewer_ip: str, covering: list[AllowedNetwork]):
        self.viewer_ip = viewer_ip
        self.covering = covering
        super().__init__(
            f"This change would leave your own address {viewer_ip} outside the allowlist, "
            "so WAF would block you. Confirm it if that is what you want."
        )


class EmptyAllowlist(AccessControlError):
    """A change that would empty the allowlist, or one IP version's WAF set, now or when
    an expiry passes. `rule`: "last_permanent" (no active network without an expiry would
    remain), "last_of_version" (the version's set would be empty at once) or
    "last_permanent_of_version" (it would empty when the new expiry passes)."""

    class Rule(StrEnum):
        LAST_PERMANENT = "last_permanent"
        LAST_OF_VERSION = "last_of_version"
        LAST_PERMANENT_OF_VERSION = "last_permanent_of_version"

    def __init__(self, message: str = "", *, rule: Rule = Rule.LAST_PERMANENT):
        self.rule = rule
        super().__init__(
            message
            or "This would leave the allowlist empty and WAF would block everyone. "
            "Add another network first (only the command line can empty it, with "
            "--allow-empty)."
        )


class WafSyncError(AccessControlError):
    """WAF refused or failed. `transient` errors (throttling, outage, lock contention)
    leave the sync pending; others (missing IP set, access denied) mark it failed."""

    def __init__(self, message: str, *, transient: bool = True):
        self.transient = transient
        super().__init__(message)


class IpSetNotFound(WafSyncError):
    def __init__(self, name: str, scope: str, region: str):
        self.name = name
        super().__init__(
            f"WAF IP set {name} (scope {scope}, {region}) does not exist; "
            "create it with provision_infra --apply.",
            transient=False,
        )


class WafLimitExceeded(WafSyncError):
    """WAFLimitsExceededException: the write would take the set past a WAF limit (10,000
    addresses per IP set). Not transient: retrying the same write fails the same way."""

    def __init__(self, name: str, operation: str):
        self.name = name
        super().__init__(
            f"WAF refused {operation} on {name}: the IP set would exceed WAF's limit of "
            "10,000 addresses (WAFLimitsExceededException). Remove networks (or merge them "
            "into wider ones) and sync again.",
            transient=False,
        )


class WafLockConflict(WafSyncError):
    """WAFOptimisticLockException: someone changed the set between our read and write."""


class WafReadError(AccessControlError):
    """A read of the web ACL (its sampled requests) failed: WAF refused, could not be
    reached, or the web ACL is missing. Nothing changed; the message is ours (the botocore
    text went to the log)."""
