"""Request and response shapes of /api/access-links (see api.views.access)."""

from typing import Any

from rest_framework import serializers

from accesscontrol import access_links as al
from accesscontrol.models import AccessLink
from api.serializers import StrictCharField, StrictIntegerField, iso


class AccessLinkCreateSerializer(serializers.Serializer[Any]):
    # A DRF field named like a Field attribute ("label") is fine at run time; the stubs
    # see the attribute, hence the ignores.
    label = StrictCharField(  # type: ignore[assignment]
        max_length=100, help_text="Who the link is for, and why."
    )
    hours = StrictIntegerField(
        min_value=al.HOURS_MIN,
        max_value=al.HOURS_MAX,
        default=al.HOURS_DEFAULT,
        help_text="How long the redeemer's address stays allowed (1 hour to 7 days).",
    )
    valid_hours = StrictIntegerField(
        min_value=al.VALID_HOURS_MIN,
        max_value=al.VALID_HOURS_MAX,
        default=al.VALID_HOURS_DEFAULT,
        help_text="How long the link itself can be used.",
    )
    max_uses = StrictIntegerField(min_value=1, max_value=al.MAX_USES_MAX, default=1)


class AccessLinkSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=AccessLink.Status.values, read_only=True)
    hours = serializers.IntegerField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    max_uses = serializers.IntegerField(read_only=True)
    uses = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    redeemed_from = serializers.CharField(read_only=True, allow_null=True)
    network = serializers.CharField(read_only=True, allow_blank=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_by = serializers.CharField(read_only=True, allow_blank=True)

    def to_representation(self, link: AccessLink) -> dict[str, Any]:
        return {
            "id": link.pk,
            "label": link.label,
            "status": link.status_at(self.context["now"]),
            "hours": link.hours,
            "expires_at": iso(link.expires_at),
            "max_uses": link.max_uses,
            "uses": link.uses,
            "created_by": link.created_by_name,
            "created_at": iso(link.created_at),
            "used_at": iso(link.used_at),
            "redeemed_from": link.redeemed_from,
            "network": link.network_cidr,
            "revoked_at": iso(link.revoked_at),
            "revoked_by": link.revoked_by_name,
        }


class AccessLinkCreatedSerializer(AccessLinkSerializer):
    url = serializers.URLField(read_only=True, help_text="Shown once: only its hash is kept.")
