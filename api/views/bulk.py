"""Bulk import and export of the allowlist over HTTP (accesscontrol.bulk does the work).

- `POST /api/networks/import`: every line checked and answered line by line. A dry run
  answers 200 with what would happen; an import answers 201 with what was created. When
  a line is refused and `valid_only` is not set, nothing is saved and the answer is a 400
  in the usual error shape whose `fields.text` names each refused line, with the full
  per-line result next to it (`lines`, `total`, `valid`, `refused`).
- `GET /api/networks/export?format=csv|json`: the allowlist as a download, streamed.
"""

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import bulk
from accesscontrol.services import expiry_after_hours
from api import permissions as perms
from api.bulk_serializers import (
    ExportQuerySerializer,
    ExportRecordSerializer,
    ImportRequestSerializer,
    ImportResultSerializer,
)
from api.exceptions import error_body
from api.requester import requester_for
from api.views.networks import FORBIDDEN, INVALID, UNAUTHENTICATED

# How many refused lines the 400's message and `fields` spell out (all are in `lines`).
NAMED_IN_MESSAGE = 50


def _result(report: bulk.ImportReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "valid_only": report.valid_only,
        "total": len(report.lines),
        "valid": len(report.valid),
        "created": len(report.created),
        "refused": len(report.refused),
        "lines": [line.as_dict() for line in report.lines],
        "sync": (
            {"status": report.sync.status, "reason": report.sync.reason}
            if report.sync is not None
            else None
        ),
    }


def _refused_body(report: bulk.ImportReport) -> dict[str, Any]:
    refused = report.refused
    named = [
        f"Line {line.line}: {key}: {message}"
        for line in refused[:NAMED_IN_MESSAGE]
        for key, messages in line.errors.items()
        for message in messages
    ]
    message = (
        f"{len(refused)} of {len(report.lines)} lines refused; nothing was imported. "
        + named[0]
        + (" Fix them, or import the valid ones only." if report.valid else "")
    )
    return error_body("import_refused", message, {"text": named}, **_result(report))


class NetworkImportView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"POST": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="networks_import",
        summary="Import many networks (CSV or one CIDR per line), all or the valid ones",
        request=ImportRequestSerializer,
        responses={
            200: OpenApiResponse(ImportResultSerializer, description="Dry run: nothing saved."),
            201: ImportResultSerializer,
            400: OpenApiResponse(
                description='"invalid" (a malformed request or file) or "import_refused" '
                "(refused lines: fields.text names them, `lines` has every line; nothing "
                "saved)."
            ),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            413: OpenApiResponse(description="request_too_large"),
        },
    )
    def post(self, request: Request) -> Response:
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        default_expiry = expiry_after_hours(values["ttl_hours"]) if "ttl_hours" in values else None
        report = bulk.import_networks(
            requester=requester_for(request),
            text=values["text"],
            format=values["format"],
            label=values.get("label"),
            default_expires_at=default_expiry,
            valid_only=values["valid_only"],
            dry_run=values["dry_run"],
        )
        if report.dry_run:
            return Response(_result(report))
        if not report.imported:
            return Response(_refused_body(report), status=status.HTTP_400_BAD_REQUEST)
        return Response(_result(report), status=status.HTTP_201_CREATED)


class NetworkExportView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_NETWORKS}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # ?format= names the file's format here, not one of DRF's renderers (DRF reads the
        # same parameter, URL_FORMAT_OVERRIDE, and would answer ?format=csv with a 404).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="networks_export",
        summary="The allowlist as CSV (importable again) or JSON, oldest first",
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(str, description="cidr,label,note,expires_at"),
            (200, "application/json"): OpenApiResponse(
                ExportRecordSerializer(many=True), description="An array of networks."
            ),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        networks = bulk.networks_for_export(include_expired=query.validated_data["include_expired"])
        if query.validated_data["format"] == bulk.ExportFormat.JSON:
            response = StreamingHttpResponse(
                bulk.export_json(networks), content_type="application/json"
            )
            name = "gatehouse-allowlist.json"
        else:
            response = StreamingHttpResponse(
                bulk.export_csv(networks), content_type="text/csv; charset=utf-8"
            )
            name = "gatehouse-allowlist.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
