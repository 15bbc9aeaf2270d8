"""Pagination for the API.

`CountedPagePagination` is DRF's page-number pagination ({"count", "next", "previous",
"results"}) that reads the page and the total in one query (the count as an uncorrelated
scalar subquery, which the database evaluates once; `COUNT(*) OVER ()` would make it
materialise every row before the LIMIT), so a list request costs one query for its data.
`paginate_rows` pages any fetch(offset, limit) -> (rows, total) with the same rules.

`AuditCursorPagination` walks the append-only audit trail newest first; a cursor stays
valid while new events arrive.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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


class AuditCursorPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")
    cursor_query_param = "cursor"
