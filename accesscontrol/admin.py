"""Django admin for superusers (users and groups live here). Networks are read-only here,
with a link to the console: every change to the allowlist goes through the console, the
API or the commands, which carry the guards (self-lockout confirmation, the empty-allowlist
and per-IP-version invariants, the 10,000 limit), the audit trail and the WAF sync. The
admin's own delete, bulk delete and change forms would otherwise be a door around them.
Audit events, sync state and the notification outbox are read-only too. Authenticator
apps (django-otp's TOTP devices) are listed, and deleting one resets the user's second
factor (audited)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django_otp.plugins.otp_totp.models import TOTPDevice

from accesscontrol import second_factor
from accesscontrol.audit import Requester
from accesscontrol.clientip import viewer_address
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState, Notification

CONSOLE_URL = "/#/networks"  # the console: CloudFront's default behaviour, same host


# ModelAdmin is generic only in django-stubs: Django has no ModelAdmin[...] at runtime (that
# needs django-stubs-ext, a development dependency here), so the base stays unparameterised.
class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AllowedNetwork)
class AllowedNetworkAdmin(ReadOnlyAdmin):
    list_display = [
        "cidr",
        "label",
        "ip_version",
        "status",
        "source",
        "needs_review",
        "expires",
        "created_by",
    ]
    list_filter = ["ip_version", "source", "needs_review"]
    search_fields = ["cidr", "label", "note"]

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: AllowedNetwork) -> str:
        """With its time zone: the admin shows times in TIME_ZONE (UTC), unlabelled."""
        if obj.expires_at is None:
            return "never"
        return timezone.localtime(obj.expires_at).strftime("%Y-%m-%d %H:%M %Z")

    actions = None  # no "Delete selected": it would bypass the services

    def _point_to_console(self, request: HttpRequest) -> None:
        messages.info(
            request,
            format_html(
                'Networks are changed in the <a href="{}">Gatehouse console</a>, which '
                "checks every change (your own access, the last network of each IP "
                "version), records it and updates WAF. Here they are read-only.",
                CONSOLE_URL,
            ),
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "GET":
            self._point_to_console(request)
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "GET":
            self._point_to_console(request)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "subject", "request_ip"]
    list_filter = ["action"]
    search_fields = ["subject", "actor_name", "reason"]
    date_hierarchy = "created_at"


@admin.register(IpSetSyncState)
class IpSetSyncStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "ip_version", "status", "last_synced_at", "last_error"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The notification outbox (accesscontrol.notifications): what was sent, what waits
    for a retry and why, what was given up. Targets are URL hashes: URLs may hold
    credentials and live only in GATEHOUSE_NOTIFY_URLS."""

    list_display = ["created_at", "kind", "subject", "target", "state", "attempts", "last_error"]
    list_filter = ["state", "kind"]
    search_fields = ["subject", "body"]


def _admin_requester(request: HttpRequest) -> Requester:
    return Requester(
        user=request.user,
        ip=viewer_address(request),
        user_agent=request.headers.get("User-Agent", "")[:512],
        auth_method=second_factor.session_method(request.session),
    )


# django-otp's own TOTP admin edits keys and shows QR codes; ours only lists who has an
# authenticator app and deletes one through the audited reset (break-glass for a lost phone).
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TotpDeviceAdmin(ReadOnlyAdmin):
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username", "user__email"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        assert isinstance(obj, TOTPDevice)
        second_factor.reset(
            user=obj.user,
            requester=_admin_requester(request),
            reason="Second factor reset in the Django admin.",
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        users = {device.user for device in queryset.select_related("user")}
        for user in users:
            second_factor.reset(
                user=user,
                requester=_admin_requester(request),
                reason="Second factor reset in the Django admin.",
            )
