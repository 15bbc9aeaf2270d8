"""The WAF projection's state, running a sync (or planning one), and the audit trail."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import selectors, services
from api import permissions as perms
from api.pagination import AuditCursorPagination
from api.serializers import (
    AuditEventSerializer,
    ErrorSerializer,
    SetSyncResultSerializer,
    SyncReportSerializer,
    SyncRunSerializer,
    SyncStateSerializer,
    SyncStatusSerializer,
)
from api.views.common import requester_for

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
    def get(self, request):
        states = selectors.sync_states()
        return Response(
            {
                "in_sync": all(state.status == "in_sync" for state in states),
                "sets": SyncStateSerializer(states, many=True).data,
            }
        )

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
    def post(self, request):
        body = SyncRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dry_run = body.validated_data["dry_run"]
        report = services.sync_waf_ip_sets(requester=requester_for(request), dry_run=dry_run)
        return Response(
            {"dry_run": dry_run, "sets": SetSyncResultSerializer(report.sets, many=True).data}
        )


class AuditQuerySerializer(serializers.Serializer):
    action = serializers.CharField(required=False, allow_blank=True, max_length=64)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=150)


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
    def get(self, request):
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = selectors.audit_events(
            action=query.validated_data.get("action") or None,
            actor=query.validated_data.get("actor") or None,
            include_sign_ins=request.user.is_superuser,
        )
        paginator = AuditCursorPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)
