"""Django admin for superusers. Changes to networks go through the services (same rules,
audit and sync as the API); audit events and sync state are read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from accesscontrol import services, validation
from accesscontrol.clientip import viewer_ip
from accesscontrol.exceptions import AccessControlError
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState


def _requester(request) -> services.Requester:
    return services.Requester(
        user=request.user, ip=viewer_ip(request), user_agent=request.headers.get("User-Agent", "")
    )


def _field_errors(exc: ValidationError, field: str) -> ValidationError:
    return ValidationError(exc.error_dict[field]) if hasattr(exc, "error_dict") else exc


class AllowedNetworkForm(forms.ModelForm):
    """The services' input rules, shown on the form (the admin is for superusers, so wide
    prefixes are allowed here)."""

    class Meta:
        model = AllowedNetwork
        fields = ["cidr", "label", "note", "expires_at"]

    def clean_cidr(self):
        try:
            network = validation.parse_network(self.cleaned_data["cidr"])
            validation.check_network_policy(network, is_superuser=True)
        except ValidationError as exc:
            raise _field_errors(exc, "cidr") from None
        return str(network)

    def clean_label(self):
        try:
            return validation.clean_label(self.cleaned_data["label"])
        except ValidationError as exc:
            raise _field_errors(exc, "label") from None

    def clean_expires_at(self):
        if "expires_at" not in self.changed_data:
            return self.cleaned_data["expires_at"]
        try:
            return validation.clean_expires_at(self.cleaned_data["expires_at"])
        except ValidationError as exc:
            raise _field_errors(exc, "expires_at") from None


@admin.register(AllowedNetwork)
class AllowedNetworkAdmin(admin.ModelAdmin):
    form = AllowedNetworkForm
    list_display = ["cidr", "label", "ip_version", "status", "source", "expires", "created_by"]
    list_filter = ["ip_version", "source"]
    search_fields = ["cidr", "label", "note"]
    readonly_fields = ["ip_version", "source", "created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "cidr"] if obj else self.readonly_fields

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        """With its time zone: the admin shows times in TIME_ZONE (UTC), unlabelled."""
        if obj.expires_at is None:
            return "never"
        return timezone.localtime(obj.expires_at).strftime("%Y-%m-%d %H:%M %Z")

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.update_network(
                    requester=_requester(request),
                    network=obj,
                    changes={k: form.cleaned_data[k] for k in form.changed_data if k != "cidr"},
                    confirm=True,
                )
            else:
                result = services.allow_network(
                    requester=_requester(request),
                    cidr=form.cleaned_data["cidr"],
                    label=form.cleaned_data["label"],
                    note=form.cleaned_data.get("note", ""),
                    expires_at=form.cleaned_data.get("expires_at"),
                )
                obj.pk = result.network.pk
        except (ValidationError, AccessControlError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))

    def delete_model(self, request, obj):
        try:
            services.revoke_network(requester=_requester(request), network=obj, confirm=True)
        except AccessControlError as exc:
            messages.error(request, str(exc))

    def delete_queryset(self, request, queryset):
        for network in queryset:
            self.delete_model(request, network)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "subject", "request_ip"]
    list_filter = ["action"]
    search_fields = ["subject", "actor_name", "reason"]
    date_hierarchy = "created_at"


@admin.register(IpSetSyncState)
class IpSetSyncStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "ip_version", "status", "last_synced_at", "last_error"]
