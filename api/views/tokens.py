"""API tokens over HTTP: list, create (the token is in the answer once), revoke.

Editors and superusers manage tokens, signed in with a session: a request made with a
token is refused here (403 `session_required`), so a leaked token cannot mint successors
or revoke the others. Viewers see nothing here (they cannot make tokens either).
"""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import tokens
from accesscontrol.models import ApiToken
from api import permissions as perms
from api.requester import requester_for
from api.serializers import StrictCharField, StrictIntegerField
from api.tokens_auth import is_token_request
from api.views.networks import FORBIDDEN, INVALID, NOT_FOUND, UNAUTHENTICATED

LIST_LIMIT = 200


class TokenCreateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=tokens.NAME_MAX)
    role = serializers.ChoiceField(choices=ApiToken.Role.values)
    expires_in_days = StrictIntegerField(min_value=1, help_text="At most GATEHOUSE_TOKEN_MAX_DAYS.")


class ApiTokenSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.ChoiceField(choices=ApiToken.Role.values)
    status = serializers.ChoiceField(choices=ApiToken.Status.values)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_by = serializers.CharField()
    last_used_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, token: ApiToken) -> dict[str, Any]:
        def iso(value: Any) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "role": token.role,
            "status": token.status_at(self.context.get("now") or timezone.now()),
            "created_by": token.created_by_name,
            "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at),
            "revoked_at": iso(token.revoked_at),
            "revoked_by": token.revoked_by_name,
            "last_used_at": iso(token.last_used_at),
        }


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="Shown once: only its hash is stored.")


def _session_only(request: Request) -> None:
    if is_token_request(request):
        raise exceptions.PermissionDenied(
            exceptions.ErrorDetail(
                "API tokens cannot list, make or revoke tokens; sign in to the console.",
                code="session_required",
            )
        )


class ApiTokenListView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.ADD_NETWORK, "POST": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="tokens_list",
        summary="API tokens, newest first (at most 200)",
        responses={200: ApiTokenSerializer(many=True), 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        _session_only(request)
        listed = ApiToken.objects.all()[:LIST_LIMIT]
        return Response(ApiTokenSerializer(listed, many=True, context={"now": timezone.now()}).data)

    @extend_schema(
        operation_id="tokens_create",
        summary="Make an API token (the token is answered once, never stored)",
        request=TokenCreateSerializer,
        responses={
            201: ApiTokenCreatedSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        _session_only(request)
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = tokens.create_api_token(
            requester=requester_for(request),
            creator_role=perms.role_of(request.user),
            **body.validated_data,
        )
        data = {**ApiTokenSerializer(created.token).data, "token": created.secret}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"DELETE": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke an API token (it stays listed, revoked)",
        responses={
            200: ApiTokenSerializer,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        _session_only(request)
        token = get_object_or_404(ApiToken, pk=pk)
        token = tokens.revoke_api_token(requester=requester_for(request), token=token)
        return Response(ApiTokenSerializer(token).data)
