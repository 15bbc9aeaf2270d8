"""The allowlist (the source of truth), its audit trail, and the state of its WAF projection.

Invariants: `AllowedNetwork.cidr` is always the normalised network string produced by
`accesscontrol.validation` (so equality is string equality, also for WAF addresses);
`AllowedNetwork.range_start`/`range_end` are the first and last address of `cidr` as
16-byte big-endian integers (`network_bounds`), kept by `save()` and by the queryset's
`bulk_create` (so every write path, present or future, gets them): "which networks contain
this address" is an index lookup (`containing_q`); `cidr` is never changed after insert
(a QuerySet.update of `cidr` would bypass them: nothing does one);
`AuditEvent` rows are only ever inserted; one `IpSetSyncState` row per IP version (made by
migration 0005), whose row lock serialises every sync of that version across processes
and app instances; its generations say which changes WAF holds (group commit).
"""

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NoReturn, Self

from django.conf import settings
from django.db import models
from django.utils import timezone

BOUND_BYTES = 16  # 128 bits: an IPv6 address; IPv4 values are zero-extended


def address_key(value: int) -> bytes:
    """An address (as an integer) in the stored bound form: fixed-width big-endian bytes,
    so byte order is numeric order (SQLite BLOB and PostgreSQL bytea compare bytewise)."""
    return value.to_bytes(BOUND_BYTES, "big")


def network_bounds(cidr: str) -> tuple[bytes, bytes]:
    """(first, last) address of a network in the stored bound form."""
    network = ipaddress.ip_network(cidr)
    return (
        address_key(int(network.network_address)),
        address_key(int(network.broadcast_address)),
    )


def containing_q(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, *, prefix: str = ""
) -> models.Q:
    """Rows whose network contains `network` (equal or wider): index probes on
    (ip_version, range_start), one per possible prefix length (a containing /p starts at
    the address masked to /p), then `range_end` drops the narrower ones sharing a start."""
    return models.Q(
        **{
            f"{prefix}ip_version": network.version,
            f"{prefix}range_start__in": [address_key(s) for s in containing_starts(network)],
            f"{prefix}range_end__gte": address_key(int(network.broadcast_address)),
        }
    )


def containing_starts(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[int]:
    """The first address of every network that could contain `network`: its own first
    address masked to each prefix length from its own down to /0 (at most 129, fewer when
    they coincide)."""
    bits = network.max_prefixlen
    first = int(network.network_address)
    ones = (1 << bits) - 1
    return sorted({first & (ones ^ ((1 << (bits - p)) - 1)) for p in range(network.prefixlen + 1)})


class AllowedNetworkQuerySet(models.QuerySet["AllowedNetwork"]):
    def bulk_create(
        self, objs: Iterable["AllowedNetwork"], *args: Any, **kwargs: Any
    ) -> list["AllowedNetwork"]:
        """Every bulk insert gets the bounds too (bulk_create never calls save())."""
        objs = list(objs)
        for obj in objs:
            obj.fill_bounds()
        return super().bulk_create(objs, *args, **kwargs)

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
    # Derived from cidr (see the module docstring): first and last address, 16-byte
    # big-endian, for indexed containment searches and covers_you without parsing.
    range_start = models.BinaryField(max_length=BOUND_BYTES, editable=False)
    range_end = models.BinaryField(max_length=BOUND_BYTES, editable=False)

    objects = AllowedNetworkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ip_version", "expires_at"], name="network_version_expiry"),
            # The console's list pages newest first: read a page, don't sort the table.
            models.Index(fields=["-created_at", "-id"], name="network_newest_first"),
            # "Which networks contain this address?": containing_q probes this index.
            models.Index(fields=["ip_version", "range_start"], name="network_range_start"),
            # The console's other sorts, for keyset paging (accesscontrol.network_page):
            # a cursor page seeks into one of these and reads a page of it, either way.
            # Oldest first is network_newest_first read backwards.
            models.Index(fields=["label", "-created_at", "-id"], name="network_label_seek"),
            models.Index(fields=["-label", "-created_at", "-id"], name="network_label_desc_seek"),
            models.Index(fields=["expires_at", "-id"], name="network_expiry_seek"),
            models.Index(fields=["-expires_at", "-id"], name="network_expiry_desc_seek"),
        ]
        permissions = [("run_sync", "Can run a WAF sync")]

    def __str__(self) -> str:
        return f"{self.cidr} ({self.label})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Derived data, not business logic: whoever saves a network gets its bounds.
        self.fill_bounds()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "cidr" in update_fields:
            kwargs["update_fields"] = {*update_fields, "range_start", "range_end"}
        super().save(*args, **kwargs)

    def fill_bounds(self) -> None:
        self.range_start, self.range_end = network_bounds(self.cidr)

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
    # How the actor's session signed in ("password", "password+totp", "password+recovery",
    # "sso:<provider>"; empty for the system, the command line and anonymous requests).
    auth_method = models.CharField(max_length=64, blank=True)
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
    # Group commit (accesscontrol.sync): every change to the set's addresses moves
    # desired_generation on in its own transaction; a sync records the generation it read
    # (under this row's lock) once WAF holds it. A change is in WAF when applied >= its own.
    desired_generation = models.BigIntegerField(default=0)
    applied_generation = models.BigIntegerField(default=0)
    # Which request runs the set's sync rounds for everyone waiting (a lease, not a lock:
    # nothing is held while it is taken, and a holder that dies lets it expire).
    syncer = models.CharField(max_length=200, blank=True)
    syncer_until = models.DateTimeField(null=True, blank=True)

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


class SingleSignOnIdentity(models.Model):
    """The identity provider's account (`issuer` + `sub`, stable for the account's life)
    a Gatehouse user signs in as (accesscontrol.sso).

    Users are matched by this link, never by email or username: an address can be reused
    or typed into a local account, and a local (break-glass) account must never be taken
    over, or have its roles rewritten, by whoever the provider says has that address."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    # The provider's groups at the last sign-in, as sent (what the role was read from).
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_issuer_sub")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Notification(models.Model):
    """One message for one notification target (accesscontrol.notifications): the outbox.

    Rows are made by the scheduled sync's drain (from audit events after a cursor, and from
    the sync states and expiries it checks), never by a change request. `key` names the
    event; (key, target) is unique, so an event is queued once per target however many
    drains see it. A row is claimed (state `sending`, committed) before it is sent: a crash
    mid-send loses that message instead of sending it twice (at most once)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    key = models.CharField(max_length=200)
    # sha256 prefix of the Apprise URL: the URL itself may hold credentials and stays in
    # the environment.
    target = models.CharField(max_length=16)
    kind = models.CharField(max_length=32, db_index=True)
    subject = models.CharField(max_length=255)
    # The audit event this message reports, if any (the drain's late-commit check).
    event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    title = models.CharField(max_length=255)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "target"], name="notification_once_per_target")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject} -> {self.target}: {self.state}"


class NotificationCursor(models.Model):
    """The last audit event id the notification drain has turned into messages."""

    name = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_id}"


class ApiToken(models.Model):
    """A bearer token for scripts and CI (accesscontrol.tokens).

    Only the sha256 of the token is stored (the token is 256 random bits from `secrets`,
    shown once). A token acts with exactly `role`, never more than its creator holds now:
    it stops working when the creator is deactivated, deleted or demoted below it. Usable
    while not revoked and before `expires_at` (always set: tokens do not live forever).
    """

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        EDITOR = "editor", "Editor"
        SUPERUSER = "superuser", "Superuser"

    class Status(models.TextChoices):
        """Not stored: derived from the row at a moment (see `status_at`)."""

        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, so a person can tell which token a script holds.
    prefix = models.CharField(max_length=16)
    role = models.CharField(max_length=16, choices=Role.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_name = models.CharField(max_length=150, blank=True)
    # Written at most once a minute per token (accesscontrol.tokens.LAST_USED_RESOLUTION).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"token {self.name} ({self.role})"

    def status_at(self, now: datetime) -> "ApiToken.Status":
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE


class RecoveryCode(models.Model):
    """A one-time recovery code for the second factor, stored as its SHA-256 only.

    The codes are random (60 bits), so a fast hash suffices (as for API tokens) and a sign-in
    checks one code with one indexed lookup. Used once: `used_at` is set by a conditional
    update, so two requests with one code cannot both succeed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id} ({'used' if self.used_at else 'unused'})"
