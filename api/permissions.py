"""Roles as Django model permissions: who may call which API method.

The groups "viewer" and "editor" (made by accesscontrol's data migration) hold model
permissions on the accesscontrol models; superusers hold all. A view names the permission
each HTTP method needs in `required_permissions`; `RolePermission` checks it.

All of a user's accesscontrol permissions are read in one query and kept on the user
object for the rest of the request (Django's own backend spends two), so a list request
stays within its query budget.
"""

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db.models import Q
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

APP_LABEL = "accesscontrol"

VIEW_NETWORKS = "view_allowednetwork"
ADD_NETWORK = "add_allowednetwork"
CHANGE_NETWORK = "change_allowednetwork"
DELETE_NETWORK = "delete_allowednetwork"
VIEW_SYNC = "view_ipsetsyncstate"
RUN_SYNC = "run_sync"
VIEW_AUDIT = "view_auditevent"

# Where a user's codenames are kept for the request (api.tokens_auth presets it).
CACHE_ATTR = "_gatehouse_codenames"

AnyUser = User | AnonymousUser


class Role(StrEnum):
    """What the console shows and allows."""

    VIEWER = "viewer"
    EDITOR = "editor"
    SUPERUSER = "superuser"
    NONE = "none"


def granted_codenames(user: AnyUser) -> frozenset[str]:
    """The accesscontrol permission codenames the user holds directly or through groups."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(
            Permission.objects.filter(content_type__app_label=APP_LABEL)
            .filter(Q(user=user) | Q(group__user=user))
            .values_list("codename", flat=True)
            .distinct()
        )
        setattr(user, CACHE_ATTR, cached)
    return cached


def user_can(user: AnyUser, codename: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or codename in granted_codenames(user)


def role_of(user: AnyUser) -> Role:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Role.NONE
    if user.is_superuser:
        return Role.SUPERUSER
    codenames = granted_codenames(user)
    if ADD_NETWORK in codenames:
        return Role.EDITOR
    if VIEW_NETWORKS in codenames:
        return Role.VIEWER
    return Role.NONE


class RolePermission(BasePermission):
    """Grant a method when the user holds the permission the view names for it.

    A method the view does not list is refused. Anonymous requests are refused here and
    DRF turns that into 401, authenticated ones into 403.
    """

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        required = getattr(view, "required_permissions", {})
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        codename = required.get(method)
        if codename is None:
            return False
        return user_can(request.user, codename)
