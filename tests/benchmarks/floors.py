"""The two floors `GET /api/networks` is measured against (benchmark code, not product).

Both answer what the real endpoint answers for its default request (first page, 50 rows,
newest first, `covers_you` for the viewer, next/previous links, the next one with the last
row's cursor), byte for byte, through
the same Django middleware (the session and the user are loaded the same way):

- `orm_floor`: a plain Django view doing the work through the ORM: one permission query,
  `count()` and the page as model instances, `ipaddress` for `covers_you`.
- `raw_floor`: what must be done anyway: one SQL query for the permission check and one for
  the page and the count, rows as tuples, `covers_you` from the stored integer bounds.

`tests/benchmarks/bench_api.py` serves them beside the real endpoint (this module is its
URLconf, through `tests.benchmarks.bench_settings`); `tests/api/test_list_floors.py`
checks they answer the same bytes as the endpoint.
"""

import ipaddress
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import timezone

from accesscontrol.clientip import as_waf_sees, viewer_address
from accesscontrol.models import AllowedNetwork
from api.pagination import Cursor, encode_cursor

PAGE_SIZE = 50
LIST_PATH = "/api/networks"  # the links name the real endpoint, as it does
CODENAME = "view_allowednetwork"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _render(body: dict[str, Any], status: int = 200) -> HttpResponse:
    # As DRF's JSONRenderer: compact, UTF-8, U+2028/U+2029 escaped.
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return HttpResponse(text.encode(), status=status, content_type="application/json")


def _refused(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return _render(
            {
                "error": {
                    "code": "not_authenticated",
                    "message": "Authentication credentials were not provided.",
                    "fields": {},
                }
            },
            401,
        )
    return _render(
        {
            "error": {
                "code": "permission_denied",
                "message": "Your role does not allow this.",
                "fields": {},
            }
        },
        403,
    )


def _envelope(
    request: HttpRequest,
    count: int,
    results: list[dict[str, Any]],
    last: tuple[datetime, int] | None,
) -> HttpResponse:
    """The page's envelope; `last`: the last row's (created_at, id), the next page's seek."""
    link = None
    if count > PAGE_SIZE and last is not None:
        cursor = encode_cursor(Cursor("-created_at", last, PAGE_SIZE))
        link = request.build_absolute_uri(LIST_PATH) + "?" + urlencode({"cursor": cursor})
    return _render({"count": count, "page": 1, "next": link, "previous": None, "results": results})


def orm_floor(request: HttpRequest) -> HttpResponse:
    user = request.user
    allowed = user.is_authenticated and user.is_active
    if allowed and not user.is_superuser:
        allowed = (
            Permission.objects.filter(content_type__app_label="accesscontrol", codename=CODENAME)
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
    if not allowed:
        return _refused(request)
    viewer = as_waf_sees(viewer_address(request))
    networks = AllowedNetwork.objects.select_related("created_by").order_by("-created_at", "-id")
    count = networks.count()
    now = timezone.now()
    results = []
    page = list(networks[:PAGE_SIZE])
    for network in page:
        active = network.expires_at is None or network.expires_at > now
        creator = network.created_by
        results.append(
            {
                "id": network.pk,
                "cidr": network.cidr,
                "ip_version": network.ip_version,
                "label": network.label,
                "note": network.note,
                "status": "active" if active else "expired",
                "source": network.source,
                "expires_at": _iso(network.expires_at),
                "created_by": creator.get_username() if creator is not None else None,
                "created_at": _iso(network.created_at),
                "updated_at": _iso(network.updated_at),
                "covers_you": active and viewer in ipaddress.ip_network(network.cidr),
                "needs_review": network.needs_review,
            }
        )
    last = (page[-1].created_at, page[-1].pk) if page else None
    return _envelope(request, count, results, last)


PERMISSION_SQL = """
SELECT 1 FROM auth_permission p
JOIN django_content_type ct ON ct.id = p.content_type_id
WHERE ct.app_label = 'accesscontrol' AND p.codename = %s AND (
  p.id IN (SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %s)
  OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp
              JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s))
LIMIT 1
"""
PAGE_SQL = """
SELECT n.id, n.cidr, n.ip_version, n.label, n.note, n.expires_at, n.source, u.username,
       n.created_at, n.updated_at, n.needs_review, n.range_start, n.range_end,
       (SELECT COUNT(*) FROM accesscontrol_allowednetwork)
FROM accesscontrol_allowednetwork n LEFT JOIN auth_user u ON u.id = n.created_by_id
ORDER BY n.created_at DESC, n.id DESC LIMIT %s
"""


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp as the database driver returns it (SQLite: naive UTC) as an aware one."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def raw_floor(request: HttpRequest) -> HttpResponse:
    user = request.user
    allowed = user.is_authenticated and user.is_active
    if allowed and not user.is_superuser:
        with connection.cursor() as cursor:
            cursor.execute(PERMISSION_SQL, [CODENAME, user.pk, user.pk])
            allowed = cursor.fetchone() is not None
    if not allowed:
        return _refused(request)
    viewer = as_waf_sees(viewer_address(request))
    key, version = int(viewer).to_bytes(16, "big"), viewer.version
    with connection.cursor() as cursor:
        cursor.execute(PAGE_SQL, [PAGE_SIZE])
        rows = cursor.fetchall()
    now = timezone.now()
    results = []
    for (
        pk,
        cidr,
        ipv,
        label,
        note,
        expires,
        source,
        creator,
        created,
        updated,
        review,
        start,
        end,
        _,
    ) in rows:
        expires_at = _aware(expires)
        active = expires_at is None or expires_at > now
        results.append(
            {
                "id": pk,
                "cidr": cidr,
                "ip_version": ipv,
                "label": label,
                "note": note,
                "status": "active" if active else "expired",
                "source": source,
                "expires_at": _iso(expires_at),
                "created_by": creator,
                "created_at": _iso(_aware(created)),
                "updated_at": _iso(_aware(updated)),
                "covers_you": active and ipv == version and bytes(start) <= key <= bytes(end),
                "needs_review": bool(review),
            }
        )
    count = rows[0][-1] if rows else 0
    last = (_aware(rows[-1][8]), rows[-1][0]) if rows else None
    return _envelope(request, count, results, last)


# Before the product's URLs: /api/ ends in a catch-all JSON 404.
urlpatterns = [
    path("api/bench/orm-networks", orm_floor),
    path("api/bench/raw-networks", raw_floor),
    path("", include("adminsite.urls")),
]
