"""Pagination for the API.

`CountedPagePagination` is DRF's page-number pagination ({"count", "next", "previous",
"results"}) that reads the page and the total in one query (the count as an uncorrelated
scalar subquery, which the database evaluates once; `COUNT(*) OVER ()` would make it
materialise every row before the LIMIT), so a list request costs one query for its data.
`paginate_rows` pages any fetch(offset, limit) -> (rows, total) with the same rules.

`SeekPagePagination` is the same page contract with keyset (seek) paging for `next` and
`previous`: their links carry an opaque, signed `cursor` (the boundary row's sort key,
the direction and the offset of the page it leads to) instead of `page=N`, so the
database reads one page from an index wherever it is in the list, where OFFSET reads and
drops every row before it. `?page=N` still works (deep links; a reload), and the body
says which page a cursor reached (`page`).

`AuditCursorPagination` walks the append-only audit trail newest first; a cursor stays
valid while new events arrive.
"""

import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.core import signing
from django.db.models import IntegerField, Model, QuerySet, Subquery
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

TOTAL = "_page_total"
_Model = TypeVar("_Model", bound=Model)
_Row = TypeVar("_Row")

MAX_ROW = 2**63 - 1  # LIMIT/OFFSET are signed 64-bit in PostgreSQL and SQLite


class _CountOf(Subquery):
    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS _counted)"
    output_field = IntegerField()


class CountedPagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def _window(self, request: Request) -> tuple[int, int]:
        """(offset, limit) of the requested page; 400 for a page number below 1."""
        self.request = request
        # get_page_size falls back to the class's page_size, so it is never None here.
        self.page_size = self.get_page_size(request) or self.page_size
        raw = request.query_params.get(self.page_query_param, "1")
        try:
            self.page_number = int(raw)
        except ValueError:
            self.page_number = 0
        if self.page_number < 1:
            raise ValidationError({self.page_query_param: ["A page number is 1 or more."]})
        offset = (self.page_number - 1) * self.page_size
        if offset + self.page_size > MAX_ROW:  # no list is that long; the SQL would overflow
            raise NotFound("That page is past the end of the list.")
        return offset, self.page_size

    def paginate_queryset(
        self,
        queryset: QuerySet[_Model, _Row] | Sequence[_Row],
        request: Request,
        view: APIView | None = None,
    ) -> list[_Row]:
        if not isinstance(queryset, QuerySet):
            raise TypeError("CountedPagePagination pages a QuerySet")
        offset, limit = self._window(request)
        rows = list(
            queryset.annotate(**{TOTAL: _CountOf(queryset.order_by().values("pk"))})[
                offset : offset + limit
            ]
        )
        if not rows and offset:
            raise NotFound("That page is past the end of the list.")
        self.count = getattr(rows[0], TOTAL) if rows else 0
        return rows

    def paginate_rows(
        self, fetch: Callable[[int, int], tuple[list[_Row], int]], request: Request
    ) -> list[_Row]:
        """The page from `fetch(offset, limit) -> (rows, total)`: one query of its own
        (accesscontrol.network_page), with this class's page rules and links."""
        offset, limit = self._window(request)
        rows, self.count = fetch(offset, limit)
        if not rows and offset:
            raise NotFound("That page is past the end of the list.")
        return rows

    def _url(self) -> str:
        if self.request is None:
            raise RuntimeError("paginate_queryset() sets the request before links are built")
        return self.request.build_absolute_uri()

    def get_next_link(self) -> str | None:
        if self.page_number * self.page_size >= self.count:
            return None
        url = self._url()
        return replace_query_param(url, self.page_query_param, self.page_number + 1)

    def get_previous_link(self) -> str | None:
        if self.page_number <= 1:
            return None
        url = self._url()
        if self.page_number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page_number - 1)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


@dataclass(frozen=True)
class Cursor:
    """A `next` or `previous` link's position: the page after (`backward`: before) the row
    whose sort key in `ordering` is `key`; `start` is the offset of that page's first row
    (its page number at the link's page size)."""

    ordering: str
    key: tuple[Any, ...]
    start: int
    backward: bool = False


CURSOR_SALT = "api.pagination.cursor"
CURSOR_MAX_LENGTH = 2000
# Kinds of sort-key values a cursor may carry.
INT, TEXT, DATETIME, DATETIME_OR_NULL = "int", "text", "datetime", "datetime?"


def encode_cursor(cursor: Cursor) -> str:
    """The cursor as an opaque string: JSON, base64 and a signature (django.core.signing,
    keyed by SECRET_KEY): a client can pass it back but not make or change one."""
    key = [value.isoformat() if isinstance(value, datetime) else value for value in cursor.key]
    payload = ["p" if cursor.backward else "n", cursor.start, cursor.ordering, key]
    return signing.Signer(salt=CURSOR_SALT).sign_object(payload)


def _invalid_cursor(message: str = "") -> ValidationError:
    return ValidationError(
        {"cursor": [message or "Not a cursor from this list's next or previous link."]}
    )


def _key_value(kind: str, value: Any) -> Any:
    if kind == INT and type(value) is int and 0 <= value <= MAX_ROW:
        return value
    if kind == TEXT and isinstance(value, str):
        return value
    if kind == DATETIME_OR_NULL and value is None:
        return None
    if kind in (DATETIME, DATETIME_OR_NULL) and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid_cursor() from None
        if parsed.tzinfo is not None:
            return parsed
    raise _invalid_cursor()


def decode_cursor(text: str, kinds: Callable[[str], tuple[str, ...] | None]) -> Cursor:
    """The cursor `encode_cursor` made, or a 400 naming `cursor` (any change to it breaks
    the signature; a key of the wrong shape for its ordering is refused too). `kinds`
    gives an ordering's key kinds (None: not an ordering of this list)."""
    try:
        payload = signing.Signer(salt=CURSOR_SALT).unsign_object(text)
    except (signing.BadSignature, ValueError, UnicodeError, binascii.Error, json.JSONDecodeError):
        raise _invalid_cursor() from None
    if not (isinstance(payload, list) and len(payload) == 4):
        raise _invalid_cursor()
    direction, start, ordering, key = payload
    expected = kinds(ordering) if isinstance(ordering, str) else None
    if (
        direction not in ("n", "p")
        or type(start) is not int
        or not 0 <= start <= MAX_ROW
        or expected is None
        or not isinstance(key, list)
        or len(key) != len(expected)
    ):
        raise _invalid_cursor()
    values = tuple(_key_value(kind, value) for kind, value in zip(expected, key, strict=True))
    return Cursor(ordering=ordering, key=values, start=start, backward=direction == "p")


class SeekPagePagination(CountedPagePagination):
    """CountedPagePagination whose `next` and `previous` links carry a cursor (the page
    after the last row, before the first): following them reads each page from an index
    in about the same time wherever it is, and visits the rows `page=1, 2, ...` would.
    Page 1 is always the plain URL (OFFSET 0). A cursor with `page` is the caller's query
    validation to refuse (a 400 before any paging: api.serializers.NetworkListQuerySerializer)."""

    cursor_query_param = "cursor"

    def paginate_seek(
        self,
        fetch: Callable[[int, int, Cursor | None], tuple[list[_Row], int]],
        *,
        cursor: Cursor | None,
        ordering: str,
        key: Callable[[_Row], tuple[Any, ...]],
        request: Request,
    ) -> list[_Row]:
        """The page from `fetch(offset, limit, cursor) -> (rows, total)`: by `page` as
        CountedPagePagination, or with `cursor` the `limit` rows after (before) its key;
        `key(row)` is a row's sort key in `ordering`, what the links' cursors carry."""
        self.ordering, self.key = ordering, key
        if cursor is None:
            rows = self.paginate_rows(lambda offset, limit: fetch(offset, limit, None), request)
            self.start = (self.page_number - 1) * self.page_size
            self.has_next = self.start + len(rows) < self.count
            self.has_previous = self.start > 0
            self.rows = rows
            return rows
        self.request = request
        self.page_size = self.get_page_size(request) or self.page_size
        # One row more than the page says whether there is another in that direction.
        rows, self.count = fetch(0, self.page_size + 1, cursor)
        more = len(rows) > self.page_size
        if more:
            rows = rows[1:] if cursor.backward else rows[:-1]
        if not rows:
            raise NotFound("That page is past the end of the list.")
        self.start = cursor.start
        self.page_number = self.start // self.page_size + 1
        self.has_next = more or cursor.backward
        self.has_previous = more or not cursor.backward
        self.rows = rows
        return rows

    def _cursor_link(self, cursor: Cursor) -> str:
        url = remove_query_param(self._url(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, encode_cursor(cursor))

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        last = self.key(self.rows[-1])
        return self._cursor_link(Cursor(self.ordering, last, self.start + len(self.rows)))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if self.start <= self.page_size:  # the first page: by offset, the plain URL
            url = remove_query_param(self._url(), self.cursor_query_param)
            return remove_query_param(url, self.page_query_param)
        first = self.key(self.rows[0])
        return self._cursor_link(
            Cursor(self.ordering, first, self.start - self.page_size, backward=True)
        )

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "page": self.page_number,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated: dict[str, Any] = super().get_paginated_response_schema(schema)
        properties = paginated["properties"]
        example = "https://admin.example.com/api/networks?cursor=WyJuIiw1MCwiLWNyZWF0..."
        properties["next"]["example"] = example
        properties["next"]["description"] = (
            "The next page: the same filters with an opaque `cursor`; null on the last page."
        )
        properties["previous"]["example"] = example
        properties["previous"]["description"] = (
            "The page before: a `cursor` link, or the plain URL for page 1; null on page 1."
        )
        paginated["properties"] = {
            "count": properties["count"],
            "page": {
                "type": "integer",
                "minimum": 1,
                "example": 2,
                "description": "Which page this is (from 1), by `page` or by a cursor.",
            },
            **{name: value for name, value in properties.items() if name != "count"},
        }
        paginated["required"] = ["count", "page", "next", "previous", "results"]
        return paginated


class AuditCursorPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")
    cursor_query_param = "cursor"
