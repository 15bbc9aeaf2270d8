"""Recently blocked: the addresses the web ACL's default action refused in the last three
hours, from WAF's sampled requests (read-only; allowing one is POST /api/networks)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import selectors
from api import permissions as perms
from api.serializers import BlockedReportSerializer, ErrorSerializer

UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="not_authenticated")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="permission_denied (role)")
UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="waf_unavailable: WAF could not be read (refused, unreachable, or the web "
    "ACL is missing); the message says which.",
)


class BlockedView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_NETWORKS}

    @extend_schema(
        operation_id="blocked_list",
        summary="Addresses the web ACL blocked recently (WAF's sample of the last 3 hours)",
        description=(
            "WAF's sampled requests (GetSampledRequests, at most 500) for the web ACL's "
            "default action, grouped by address, the most recently seen first. `count` is "
            "the sum of the samples' weights: roughly how many requests, not an exact "
            "tally. `allowed_now`: an active network covers the address since. To let one "
            "in, POST /api/networks with its address (e.g. with `ttl_hours`)."
        ),
        responses={
            200: BlockedReportSerializer,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request) -> Response:
        report = selectors.recently_blocked()
        return Response(BlockedReportSerializer(report).data)
