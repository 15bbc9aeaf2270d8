"""Access links over HTTP.

- `GET/POST /api/access/<token>`: the redeem page, for a visitor outside the allowlist
  (no session, no script). GET says who invited them, which address will be allowed and
  for how long; POST (CSRF: Django's cookie and the form's token, no session needed)
  redeems. Unknown, expired, used and revoked links all get the same "not valid" page.
  api.access_guard has already refused anything else under /api/access/.
- `GET/POST /api/access-links`, `DELETE /api/access-links/<id>`: the console's list,
  create (the URL is in the answer once) and revoke. Outside /api/access/ on purpose:
  the edge's exemption never covers them.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import access_links
from accesscontrol.clientip import viewer_ip
from accesscontrol.models import AccessLink
from api import permissions as perms
from api.access_guard import access_page, not_valid_page
from api.access_serializers import (
    AccessLinkCreatedSerializer,
    AccessLinkCreateSerializer,
    AccessLinkSerializer,
)
from api.requester import USER_AGENT_MAX, requester_for
from api.views.networks import FORBIDDEN, INVALID, NOT_FOUND, UNAUTHENTICATED

LIST_LIMIT = 200
RELOAD_HINT = "Reload Gatehouse in a minute: the edge takes up to a minute to let you in."


def _when(value: datetime | None) -> str:
    if value is None:
        return "no end date"
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _no_response(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("only process_view is used")


def _csrf_refused(request: HttpRequest) -> bool:
    """Django's own CSRF check (cookie + form token, Origin), answered with our page."""
    check = CsrfViewMiddleware(_no_response)
    return check.process_view(request, _no_response, (), {}) is not None


@csrf_exempt  # checked in the view, so a refusal gets this page and not Django's
def redeem(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = access_links.usable_link(token)
    except access_links.InvalidAccessLink:
        return not_valid_page(request)
    ip = viewer_ip(request)
    cidr = access_links.network_for(ip)
    if request.method == "POST":
        if _csrf_refused(request):
            return access_page(
                request,
                title="Please try again",
                lines=[
                    "The form expired or cookies are off. Open the link again and press the "
                    "button once more (cookies must be allowed for this site)."
                ],
                status=403,
            )
        return _redeem(request, token, ip)
    return access_page(
        request,
        title="Access to Gatehouse",
        lines=[
            f"{link.created_by_name} invited you: {link.label}.",
            f"Pressing the button allows your address {cidr} for {link.hours} hours.",
            f"This link can be used until {_when(link.expires_at)}.",
        ],
        form=True,
        cidr=cidr,
    )


def _redeem(request: HttpRequest, token: str, ip: str) -> HttpResponse:
    try:
        redemption = access_links.redeem_access_link(
            token=token,
            ip=ip,
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
        )
    except access_links.InvalidAccessLink:
        return not_valid_page(request)
    except access_links.AlreadyAllowed as exc:
        return access_page(
            request, title="Already allowed", lines=[str(exc), RELOAD_HINT], reload=True
        )
    except ValidationError as exc:
        errors = [str(m) for messages in exc.message_dict.values() for m in messages]
        return access_page(
            request,
            title="Your address cannot be allowed",
            lines=[f"The allowlist refuses {access_links.network_for(ip)}:"],
            errors=errors,
            status=400,
        )
    network = redemption.network
    lines = [f"Your address {network.cidr} is allowed until {_when(network.expires_at)}."]
    if redemption.sync.status != "applied":
        lines.append("The edge is being updated; it may take a few minutes.")
    lines.append(RELOAD_HINT)
    return access_page(request, title="You are in", lines=lines, reload=True)


class AccessLinkListView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"GET": perms.VIEW_NETWORKS, "POST": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="access_links_list",
        summary="Access links, newest first (at most 200)",
        responses={
            200: AccessLinkSerializer(many=True),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> Response:
        links = AccessLink.objects.all()[:LIST_LIMIT]
        return Response(
            AccessLinkSerializer(links, many=True, context={"now": timezone.now()}).data
        )

    @extend_schema(
        operation_id="access_links_create",
        summary="Make an access link (its URL is answered once, never stored)",
        request=AccessLinkCreateSerializer,
        responses={
            201: AccessLinkCreatedSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        body = AccessLinkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = access_links.create_access_link(
            requester=requester_for(request), **body.validated_data
        )
        data = {
            **AccessLinkSerializer(created.link, context={"now": timezone.now()}).data,
            "url": request.build_absolute_uri(created.path),
        }
        return Response(data, status=status.HTTP_201_CREATED)


class AccessLinkDetailView(APIView):
    permission_classes = [perms.RolePermission]
    required_permissions = {"DELETE": perms.ADD_NETWORK}

    @extend_schema(
        operation_id="access_links_revoke",
        summary="Revoke an access link (a revoked link stays listed)",
        responses={
            200: AccessLinkSerializer,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        link = get_object_or_404(AccessLink, pk=pk)
        link = access_links.revoke_access_link(requester=requester_for(request), link=link)
        return Response(AccessLinkSerializer(link, context={"now": timezone.now()}).data)
