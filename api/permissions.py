"""Roles as Django model permissions: who may call which API method.

The groups "viewer" and "editor" (made by accesscontrol's data migration) hold model
permissions on the accesscontrol models; superusers hold all. A view names the permission
each HTTP method needs in `required_permissions`; `RolePermission` checks it.

All of a user's accesscontrol permissions are read in one query and kept on the user
object for the rest of the request (Django's own backend spends two), so a list request
stays within its query budget. The query is plain SQL, written once from the models' table
and column names: building and compiling the same ORM join on every request cost ~20
times what running it does. Nothing is kept across requests, so a user removed from a
group (or deactivated, or signed out) is refused at their next request.
"""

from enum import StrEnum
from functools import cache

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
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


@cache
def _codenames_sql() -> str:
    """SELECT the codenames of one app's permissions a user holds directly or through a
    group (parameters: app label, user id, user id). Names come from the models' _meta, so
    a custom db_table would still be right."""
    q = connection.ops.quote_name
    perm, ctype = Permission._meta, ContentType._meta
    user_perms = User.user_permissions.through._meta
    user_groups = User.groups.through._meta
    group_perms = Group.permissions.through._meta

    def col(meta: object, name: str) -> str:
        return q(meta.get_field(name).column)  # type: ignore[attr-defined]

    return (  # identifiers from _meta only; the values are parameters
        f"SELECT DISTINCT p.{col(perm, 'codename')} FROM {q(perm.db_table)} p "  # noqa: S608
        f"JOIN {q(ctype.db_table)} ct ON ct.{col(ctype, 'id')} = p.{col(perm, 'content_type')} "
        f"WHERE ct.{col(ctype, 'app_label')} = %s AND ("
        f"p.{col(perm, 'id')} IN (SELECT up.{col(user_perms, 'permission')} "
        f"FROM {q(user_perms.db_table)} up WHERE up.{col(user_perms, 'user')} = %s) "
        f"OR p.{col(perm, 'id')} IN (SELECT gp.{col(group_perms, 'permission')} "
        f"FROM {q(group_perms.db_table)} gp JOIN {q(user_groups.db_table)} ug "
        f"ON ug.{col(user_groups, 'group')} = gp.{col(group_perms, 'group')} "
        f"WHERE ug.{col(user_groups, 'user')} = %s))"
    )


def granted_codenames(user: AnyUser) -> frozenset[str]:
    """The accesscontrol permission codenames the user holds directly or through groups
    (one query, memoised on this request's user object only)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, CACHE_ATTR, None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(_codenames_sql(), [APP_LABEL, user.pk, user.pk])
            cached = frozenset(row[0] for row in cursor.fetchall())
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
