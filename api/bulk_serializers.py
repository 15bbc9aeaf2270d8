"""Request and response shapes of the bulk import and export (accesscontrol.bulk)."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from accesscontrol.bulk import ExportFormat, ImportFormat
from accesscontrol.validation import MAX_TTL_HOURS
from api.serializers import (
    QueryChoiceField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)


class ImportRequestSerializer(serializers.Serializer[Any]):
    text = StrictCharField(
        trim_whitespace=False,
        help_text="CSV with a header naming some of cidr,label,note,expires_at (cidr "
        "required; the header is line 1), or one CIDR per line.",
    )
    format = serializers.ChoiceField(
        choices=[f.value for f in ImportFormat], default=ImportFormat.AUTO.value
    )
    label = StrictCharField(  # type: ignore[assignment]
        required=False,
        allow_blank=True,
        help_text="The label of every line: required for one CIDR per line; in a CSV, "
        "used where a line's label is empty.",
    )
    ttl_hours = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TTL_HOURS,
        help_text="Expire the lines without expires_at this many hours from now.",
    )
    valid_only = StrictBooleanField(
        default=False, help_text="Import the valid lines even when others are refused."
    )
    dry_run = StrictBooleanField(default=False, help_text="Check only; save nothing.")


class ImportLineSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    cidr = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    note = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=["valid", "created", "refused"])
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]
    id = serializers.IntegerField(allow_null=True)


class ImportResultSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    valid_only = serializers.BooleanField()
    total = serializers.IntegerField()
    valid = serializers.IntegerField()
    created = serializers.IntegerField()
    refused = serializers.IntegerField()
    lines = ImportLineSerializer(many=True)
    sync = serializers.DictField(allow_null=True)


class QueryBooleanField(serializers.BooleanField):
    """`?include_expired=` (empty) is no boolean: a 400, not DRF's silent false."""

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        return dictionary.get(self.field_name, serializers.empty)


class ExportQuerySerializer(serializers.Serializer[Any]):
    format = QueryChoiceField(
        choices=[f.value for f in ExportFormat], required=False, default=ExportFormat.CSV.value
    )
    include_expired = QueryBooleanField(required=False, default=False)


class ExportRecordSerializer(serializers.Serializer[Any]):
    """One network of the JSON export."""

    cidr = serializers.CharField()
    ip_version = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    note = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]
    needs_review = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["active", "expired"])
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
