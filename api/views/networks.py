"""The allowlist over HTTP: thin views over accesscontrol's services and selectors.

Each mutation answers with the network and what happened to the WAF IP sets
(`sync.status` "applied" or "pending" with a reason); the change is saved either way.
"""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import selectors, services
from accesscontrol.clientip import viewer_ip
from accesscontrol.models import AllowedNetwork
from api import permissions as perms
from api.pagination import CountedPagePagination
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
)
from api.views.common import requester_for

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


def _context(request: Request) -> dict[str, Any]:
    return {"request": request, "viewer_ip": viewer_ip(request)}


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
        ip = viewer_ip(request)
        covering = selectors.networks_covering(ip=ip)
        return Response(
            {
                "user": UserSerializer(request.user).data,
                "viewer_ip": ip,
                "allowed": bool(covering),
                "covering_networks": NetworkSerializer(
                    covering, many=True, context=_context(request)
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
        query = NetworkListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        networks = selectors.network_list(
            status=query.validated_data.get("status"),
            search=query.validated_data.get("search") or None,
            needs_review=query.validated_data.get("needs_review"),
            ordering=query.validated_data.get("ordering") or None,
        )
        paginator = CountedPagePagination()
        page = paginator.paginate_queryset(networks, request, view=self)
        data = NetworkSerializer(page, many=True, context=_context(request)).data
        return paginator.get_paginated_response(data)

    # drf-spectacular reads this to wrap the 200 list in the paginated envelope.
    pagination_class = CountedPagePagination

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
        data = NetworkChangeSerializer(change, context=_context(request)).data
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
        ip = viewer_ip(request)
        values.setdefault("label", f"{request.user.get_username()} ({ip})"[:100])
        change = services.allow_network(requester=requester_for(request), cidr=ip, **values)
        data = NetworkChangeSerializer(change, context=_context(request)).data
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
        return Response(NetworkSerializer(network, context=_context(request)).data)

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
        return Response(NetworkChangeSerializer(change, context=_context(request)).data)

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
