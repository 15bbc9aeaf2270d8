"""The WAF projection's state, running a sync (or planning one), and the audit trail."""

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import selectors, services
from accesscontrol.models import AuditEvent, IpSetSyncState
from api import permissions as perms
from api.pagination import AuditCursorPagination
from api.requester import requester_for
from api.serializers import (
    AuditEventSerializer,
    ErrorSerializer,
    SetSyncResultSerializer,
    SyncReportSerializer,
    SyncRunSerializer,
    SyncStateSerializer,
    SyncStatusSerializer,
)

UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="not_authenticated")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="permission_denied (role or CSRF)")
INVALID = OpenApiResponse(ErrorSerializer, description="invalid: see error.fields")


class SyncView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_SYNC, "POST": perms.RUN_SYNC}

    @extend_schema(
        operation_id="sync_status",
        summary="Each WAF IP set: sync state, last sync, drift, last error",
        responses={200: SyncStatusSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        sets = []
        for state in selectors.sync_states():
            data = SyncStateSerializer(state).data
            unapplied = selectors.unapplied_changes(state)
            in_sync = data["status"] == IpSetSyncState.Status.IN_SYNC
            if in_sync and (unapplied["to_add"] or unapplied["to_remove"]):
                # e.g. an entry expired: WAF still lets it in until the next sync.
                data["status"] = IpSetSyncState.Status.PENDING
                data["pending_reason"] = _pending_reason(unapplied)
            sets.append(data)
        in_sync = all(s["status"] == IpSetSyncState.Status.IN_SYNC for s in sets)
        return Response({"in_sync": in_sync, "sets": sets})

    @extend_schema(
        operation_id="sync_run",
        summary='Sync the WAF IP sets now ({"dry_run": true}: only the plan)',
        request=SyncRunSerializer,
        responses={
            200: SyncReportSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        body = SyncRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dry_run = body.validated_data["dry_run"]
        report = services.sync_waf_ip_sets(requester=requester_for(request), dry_run=dry_run)
        return Response(
            {"dry_run": dry_run, "sets": SetSyncResultSerializer(report.sets, many=True).data}
        )


def _pending_reason(unapplied: dict[str, list[str]]) -> str:
    parts = []
    if unapplied["to_remove"]:
        parts.append(
            f"{len(unapplied['to_remove'])} expired or removed entr"
            f"{'y' if len(unapplied['to_remove']) == 1 else 'ies'} still in WAF"
        )
    if unapplied["to_add"]:
        parts.append(
            f"{len(unapplied['to_add'])} entr"
            f"{'y' if len(unapplied['to_add']) == 1 else 'ies'} not yet in WAF"
        )
    return "; ".join(parts) + " until the next sync (every minute, or Sync now)."


class _QueryDateTimeField(serializers.DateTimeField):
    """`?since=` (empty) is an invalid time, not an absent one: the schema says date-time."""

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        return dictionary.get(self.field_name, empty)


class AuditQuerySerializer(serializers.Serializer[Any]):
    action = serializers.CharField(required=False, allow_blank=True, max_length=64)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=150)
    since = _QueryDateTimeField(
        required=False, help_text="Events at or after this time (ISO 8601 with zone)."
    )
    until = _QueryDateTimeField(
        required=False, help_text="Events before this time (ISO 8601 with zone)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": "Must be after since."})
        return attrs


def _audit_query(request: Request) -> QuerySet[AuditEvent]:
    """The events the query asks for; sign-in events (auth.*) for superusers only."""
    query = AuditQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return selectors.audit_events(
        action=data.get("action") or None,
        actor=data.get("actor") or None,
        since=data.get("since"),
        until=data.get("until"),
        include_sign_ins=request.user.is_superuser,
    )


class AuditView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_AUDIT}
    pagination_class = AuditCursorPagination

    @extend_schema(
        operation_id="audit_list",
        summary="Audit events, newest first (sign-in events: superusers only)",
        parameters=[
            AuditQuerySerializer,
            OpenApiParameter("cursor", str, description="From the previous page's next link."),
        ],
        responses={
            200: AuditEventSerializer(many=True),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="Invalid cursor."),
        },
    )
    def get(self, request: Request) -> Response:
        events = _audit_query(request)
        paginator = AuditCursorPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)


CSV_COLUMNS = [
    "time_utc",
    "actor",
    "action",
    "subject",
    "reason",
    "from_ip",
    "before",
    "after",
    "auth_method",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


class AuditExportView(APIView):
    """The filtered audit trail as CSV (UTC times), streamed: no page size."""

    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_AUDIT}

    @extend_schema(
        operation_id="audit_export",
        summary="Audit events as CSV, newest first (same filters as the list)",
        parameters=[AuditQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(str, description="CSV, one event per row"),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        events = _audit_query(request)
        writer = csv.writer(_Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow(CSV_COLUMNS)
            for e in events.iterator(chunk_size=500):
                yield writer.writerow(
                    [
                        e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                        e.actor_name,
                        e.action,
                        _no_formula(e.subject),
                        _no_formula(e.reason),
                        e.request_ip or "",
                        json.dumps(e.before) if e.before is not None else "",
                        json.dumps(e.after) if e.after is not None else "",
                        e.auth_method,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="gatehouse-audit.csv"'
        return response


def _no_formula(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: quote it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
