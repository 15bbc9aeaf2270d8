"""The allowlist (the source of truth), its audit trail, and the state of its WAF projection.

Invariants: `AllowedNetwork.cidr` is always the normalised network string produced by
`accesscontrol.validation` (so equality is string equality, also for WAF addresses);
`AuditEvent` rows are only ever inserted; one `IpSetSyncState` row per IP version (made by
migration 0005), whose row lock serialises every sync of that version across processes
and app instances.
"""

from datetime import datetime
from typing import Any, NoReturn, Self

from django.conf import settings
from django.db import models
from django.utils import timezone


class AllowedNetworkQuerySet(models.QuerySet["AllowedNetwork"]):
    def active(self, *, at: datetime | None = None) -> Self:
        now = at or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))

    def expired(self, *, at: datetime | None = None) -> Self:
        now = at or timezone.now()
        return self.filter(expires_at__isnull=False, expires_at__lte=now)


class AllowedNetwork(models.Model):
    class Source(models.TextChoices):
        CONSOLE = "console", "Console"
        CLI = "cli", "Command line"
        BOOTSTRAP = "bootstrap", "Bootstrap"
        ADOPTED = "adopted", "Adopted from WAF"
        ACCESS_LINK = "access_link", "Access link"

    class IpVersion(models.IntegerChoices):
        V4 = 4, "IPv4"
        V6 = 6, "IPv6"

    class Status(models.TextChoices):
        """Not stored: derived from expires_at (see `status`)."""

        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    cidr = models.CharField(max_length=64, unique=True)
    ip_version = models.PositiveSmallIntegerField(choices=IpVersion.choices)
    label = models.CharField(max_length=100)
    note = models.TextField(max_length=1000, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CONSOLE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when sync adopts the entry from WAF (added outside Gatehouse); an editor clears
    # it once someone has checked whose network it is.
    needs_review = models.BooleanField(default=False)
    # When sync recorded this entry's expiry in the audit trail (so it is recorded once);
    # cleared again when the expiry is moved into the future.
    expiry_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AllowedNetworkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ip_version", "expires_at"], name="network_version_expiry"),
            # The console's list pages newest first: read a page, don't sort the table.
            models.Index(fields=["-created_at", "-id"], name="network_newest_first"),
        ]
        permissions = [("run_sync", "Can run a WAF sync")]

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})"

    @property
    def is_active(self) -> bool:
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def status(self) -> Status:
        return self.Status.ACTIVE if self.is_active else self.Status.EXPIRED


class AuditEvent(models.Model):
    """Append-only: saving an existing event or deleting one raises."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    subject = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # The HTTP request that made the event (its X-Request-Id, also in every log line of
    # that request); blank for commands and the scheduled sync.
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        # The audit log only grows; its cursor pages walk this index newest first.
        indexes = [models.Index(fields=["-created_at", "-id"], name="audit_newest_first")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Audit events are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValueError("Audit events are append-only: they cannot be deleted.")


class IpSetSyncState(models.Model):
    class Status(models.TextChoices):
        IN_SYNC = "in_sync", "In sync"
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"

    ip_version = models.PositiveSmallIntegerField(
        unique=True, choices=AllowedNetwork.IpVersion.choices
    )
    name = models.CharField(max_length=128)
    # The WAF set's id, remembered so a sync reads it with one call (no listing).
    ip_set_id = models.CharField(max_length=128, blank=True)
    last_applied = models.JSONField(default=list, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    # What the last sync found changed outside Gatehouse: {"added_outside", "removed_outside"}.
    drift = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ip_version"]
        verbose_name = "IP set sync state"

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class AccessLink(models.Model):
    """A one-time way in for someone outside the allowlist (accesscontrol.access_links).

    Only the sha256 of the token is stored: the token itself (256 bits from `secrets`) is
    shown once, when the link is made. A link is usable while it is not revoked, not used
    up and not past `expires_at`; redeeming it allows the redeemer's address for `hours`.
    """

    class Status(models.TextChoices):
        """Not stored: derived from the row at a moment (see `status_at`)."""

        ACTIVE = "active", "Active"
        USED = "used", "Used"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    hours = models.PositiveSmallIntegerField()
    expires_at = models.DateTimeField()
    max_uses = models.PositiveSmallIntegerField(default=1)
    uses = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who made it when created_by is None (the command line: "cli:alice@host").
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_name = models.CharField(max_length=150, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    redeemed_from = models.GenericIPAddressField(null=True, blank=True)
    network_cidr = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"access link {self.pk} ({self.label})"

    def status_at(self, now: datetime) -> "AccessLink.Status":
        """Revoked, else used up, else expired, else active."""
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.uses >= self.max_uses:
            return self.Status.USED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def status(self) -> "AccessLink.Status":
        return self.status_at(timezone.now())


class AccessThrottle(models.Model):
    """Requests to /api/access/ per address and fixed window, counted in the database so
    every app instance sees the same count (the default cache is per process)."""

    key = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="access_throttle_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="access_throttle_start")]

    def __str__(self) -> str:
        return f"{self.key} since {self.window_start:%H:%M}: {self.count}"


class ScheduledSyncClaim(models.Model):
    """Who last started the scheduled sync, and when (accesscontrol.schedule).

    Several long-running `sync_waf --every` processes share one database; each interval
    the first to move `claimed_at` forward with one conditional UPDATE syncs, the others
    skip. Nothing is held between statements, so a crashed claimant blocks no one."""

    name = models.CharField(max_length=32, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} at {self.claimed_at}"
