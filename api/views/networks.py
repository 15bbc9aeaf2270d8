"""The allowlist over HTTP: thin views over accesscontrol's services and selectors.

Each mutation answers with the network and what happened to the WAF IP sets
(`sync.status` "applied" or "pending" with a reason); the change is saved either way.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import selectors, services
from accesscontrol.models import AllowedNetwork
from accesscontrol.network_page import Seek, network_page, sort_key, sort_of
from accesscontrol.validation import LABEL_MAX
from api import permissions as perms
from api.pagination import SeekPagePagination
from api.requester import requester_for
from api.serializers import (
    ConfirmQuerySerializer,
    ConflictErrorSerializer,
    ErrorSerializer,
    MeSerializer,
    MyNetworkCreateSerializer,
    NetworkChangeSerializer,
    NetworkCreateSerializer,
    NetworkListQuerySerializer,
    NetworkSerializer,
    NetworkUpdateSerializer,
    UserSerializer,
    network_rows,
)

UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="not_authenticated")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="permission_denied (role or CSRF)")
INVALID = OpenApiResponse(ErrorSerializer, description="invalid: see error.fields")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="not_found")
CONFLICT = OpenApiResponse(
    ConflictErrorSerializer,
    description='"duplicate" (with "existing"), "self_lockout" (with "viewer_ip" and '
    '"covering"; repeat with ?confirm=true) or "empty_allowlist" (with "rule": the change '
    "would leave no permanent network, or empty an IP version's WAF set; confirming does "
    "not help).",
)
CONFIRM = OpenApiParameter(
    "confirm",
    bool,
    description="Confirm a change that would stop your own address reaching Gatehouse.",
)


def _confirmed(request: Request) -> bool:
    query = ConfirmQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return bool(query.validated_data["confirm"])


class MeView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_NETWORKS}

    @extend_schema(
        operation_id="me",
        summary="You, your address as WAF sees it, and whether the allowlist admits it",
        responses={200: MeSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        viewer = requester_for(request).ip
        covering = selectors.networks_covering(ip=viewer)
        return Response(
            {
                "user": UserSerializer(request.user).data,
                "viewer_ip": str(viewer),
                "allowed": bool(covering),
                "covering_networks": NetworkSerializer(
                    covering, many=True, context={"request": request}
                ).data,
            }
        )


class NetworkListView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_NETWORKS, "POST": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="networks_list",
        summary="The allowlist, newest first",
        parameters=[NetworkListQuerySerializer],
        responses={
            200: NetworkSerializer(many=True),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="Page past the end."),
        },
    )
    def get(self, request: Request) -> Response:
        filters = NetworkListQuerySerializer.parse(request.query_params)
        ordering = sort_of(filters.get("ordering") or None)
        paginator = SeekPagePagination()
        # One hand-written query for page and total, rows as tuples: the ORM's building,
        # compiling and converting cost ten times the query (accesscontrol.network_page).
        # `page=N` reads by offset; the links' cursors seek from a row's sort key.
        rows = paginator.paginate_seek(
            lambda offset, limit, cursor: network_page(
                offset=offset,
                limit=limit,
                status=filters.get("status"),
                search=filters.get("search") or None,
                needs_review=filters.get("needs_review"),
                ordering=ordering,
                contains=filters.get("contains"),
                seek=None if cursor is None else Seek(cursor.key, backward=cursor.backward),
            ),
            cursor=filters.get("cursor"),
            ordering=ordering,
            key=lambda row: sort_key(row, ordering),
            request=request,
        )
        data = network_rows(rows, viewer=requester_for(request).ip)
        return paginator.get_paginated_response(data)

    # drf-spectacular reads this to wrap the 200 list in the paginated envelope.
    pagination_class = SeekPagePagination

    @extend_schema(
        operation_id="networks_create",
        summary="Allow a network (an address becomes /32 or /128)",
        request=NetworkCreateSerializer,
        responses={
            201: NetworkChangeSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            409: CONFLICT,
        },
    )
    def post(self, request: Request) -> Response:
        body = NetworkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.allow_network(requester=requester_for(request), **body.validated_data)
        data = NetworkChangeSerializer(change, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class MyNetworkView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"POST": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="networks_mine",
        summary="Allow your own address (/32 or /128), optionally for ttl_hours",
        request=MyNetworkCreateSerializer,
        responses={
            201: NetworkChangeSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            409: CONFLICT,
        },
    )
    def post(self, request: Request) -> Response:
        body = MyNetworkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        requester = requester_for(request)
        viewer = str(requester.ip)
        values.setdefault("label", f"{request.user.get_username()} ({viewer})"[:LABEL_MAX])
        change = services.allow_network(requester=requester, cidr=viewer, **values)
        data = NetworkChangeSerializer(change, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class NetworkDetailView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {
        "GET": perms.VIEW_NETWORKS,
        "PATCH": perms.CHANGE_NETWORK,
        "DELETE": perms.DELETE_NETWORK,
    }

    def _network(self, pk: int) -> AllowedNetwork:
        return get_object_or_404(AllowedNetwork.objects.select_related("created_by"), pk=pk)

    @extend_schema(
        operation_id="networks_retrieve",
        summary="One network",
        responses={200: NetworkSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        network = self._network(pk)
        return Response(NetworkSerializer(network, context={"request": request}).data)

    @extend_schema(
        operation_id="networks_update",
        summary="Edit label, note or expiry (expires_at null makes it permanent), or mark "
        "an adopted network reviewed",
        parameters=[CONFIRM],
        request=NetworkUpdateSerializer,
        responses={
            200: NetworkChangeSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        confirm = _confirmed(request)
        network = self._network(pk)
        body = NetworkUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        change = services.update_network(
            requester=requester_for(request),
            network=network,
            changes=dict(body.validated_data),
            confirm=confirm,
        )
        return Response(NetworkChangeSerializer(change, context={"request": request}).data)

    @extend_schema(
        operation_id="networks_destroy",
        summary="Remove a network from the allowlist",
        parameters=[CONFIRM],
        responses={
            204: OpenApiResponse(description="Removed; the WAF sync ran or is pending."),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        confirm = _confirmed(request)
        network = self._network(pk)
        services.revoke_network(requester=requester_for(request), network=network, confirm=confirm)
        return Response(status=status.HTTP_204_NO_CONTENT)
