"""One page of the allowlist and its total, in one SQL statement written here, not by the ORM.

Why: the list is the console's hottest request, and building, compiling and converting the
same ORM query cost about ten times what running it does (issue 18: 2.8 ms to compile and
3 ms to convert against 0.6 ms in the database). The filters are few and fixed, so the
statement is put together from fragments with the models' table and column names, the
values always as parameters, and each lookup spelled the way Django spells it for the
connection's database (`connection.operators` / `lookup_cast`: LIKE on SQLite, UPPER(...)
LIKE UPPER(...) on PostgreSQL).

Invariant: `network_page(**filters)` returns exactly the rows, in the order, of
`selectors.network_list(**filters).values_list(*NETWORK_ROW)` sliced to the page, and the
count of the whole list (tests/accesscontrol/test_network_page.py checks both on SQLite and
PostgreSQL). A filter added to one is added to the other.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accesscontrol.models import AllowedNetwork, address_key, containing_starts

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Names:
    table: str
    users: str
    cols: dict[str, str]
    username: str
    user_id: str


@cache
def _names() -> _Names:
    q = connection.ops.quote_name
    meta = AllowedNetwork._meta
    user_meta = get_user_model()._meta
    fields = [
        "id",
        "cidr",
        "ip_version",
        "label",
        "note",
        "expires_at",
        "source",
        "created_by",
        "created_at",
        "updated_at",
        "needs_review",
        "range_start",
        "range_end",
    ]

    def column(meta: Any, name: str) -> str:
        field: Any = meta.get_field(name)
        return str(q(field.column))

    username_field: str = get_user_model().USERNAME_FIELD
    return _Names(
        table=q(meta.db_table),
        users=q(user_meta.db_table),
        cols={name: "n." + column(meta, name) for name in fields},
        username="u." + column(user_meta, username_field),
        user_id="u." + column(user_meta, "id"),
    )


def _orderings(c: dict[str, str]) -> dict[str, str]:
    """As selectors.ORDERINGS (never-expiring entries last when soonest first)."""
    newest = f"{c['created_at']} DESC, {c['id']} DESC"
    return {
        "label": f"{c['label']} ASC, {newest}",
        "-label": f"{c['label']} DESC, {newest}",
        "expires_at": f"{c['expires_at']} ASC NULLS LAST, {c['id']} DESC",
        "-expires_at": f"{c['expires_at']} DESC NULLS FIRST, {c['id']} DESC",
        "created_at": f"{c['created_at']} ASC, {c['id']} ASC",
        "-created_at": newest,
    }


def _icontains(column: str, internal_type: str) -> str:
    lhs = connection.ops.lookup_cast("icontains", internal_type) % column
    operators: dict[str, str] = connection.operators  # type: ignore[attr-defined]
    return f"{lhs} {operators['icontains'] % '%s'}"


def _containing(c: dict[str, str], network: Network, params: list[Any]) -> str:
    """As models.containing_q: probes of the (ip_version, range_start) index."""
    starts = containing_starts(network)
    params += [network.version, *(address_key(s) for s in starts)]
    params.append(address_key(int(network.broadcast_address)))
    marks = ", ".join(["%s"] * len(starts))
    return (
        f"({c['ip_version']} = %s AND {c['range_start']} IN ({marks}) AND {c['range_end']} >= %s)"
    )


def _where(
    c: dict[str, str],
    *,
    status: str | None,
    search: str | None,
    needs_review: bool | None,
    contains: Network | None,
) -> tuple[str, list[Any]]:
    from accesscontrol.selectors import search_network

    clauses: list[str] = []
    params: list[Any] = []
    if contains is not None:
        clauses.append(_containing(c, contains, params))
    if needs_review is not None:
        clauses.append(f"{c['needs_review']} = %s")
        params.append(needs_review)
    if status in (AllowedNetwork.Status.ACTIVE, AllowedNetwork.Status.EXPIRED):
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if status == AllowedNetwork.Status.ACTIVE:
            clauses.append(f"({c['expires_at']} IS NULL OR {c['expires_at']} > %s)")
        else:
            clauses.append(f"({c['expires_at']} IS NOT NULL AND {c['expires_at']} <= %s)")
        params.append(now)
    if search and search.strip():
        term = search.strip()
        pattern = f"%{connection.ops.prep_for_like_query(term)}%"
        matches = [
            _icontains(c["cidr"], "CharField"),
            _icontains(c["label"], "CharField"),
            _icontains(c["note"], "TextField"),
        ]
        params += [pattern, pattern, pattern]
        searched = search_network(term)
        if searched is not None:
            matches.append(_containing(c, searched, params))
        clauses.append("(" + " OR ".join(matches) + ")")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def page_statement(
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
    contains: Network | None = None,
) -> tuple[str, list[Any]]:
    """(SQL, parameters) of one page plus the total, as `network_page` runs it."""
    names = _names()
    c = names.cols
    where, params = _where(
        c, status=status, search=search, needs_review=needs_review, contains=contains
    )
    orderings = _orderings(c)
    order = orderings.get(ordering or "-created_at", orderings["-created_at"])
    columns = ", ".join(
        names.username if name == "created_by" else column for name, column in c.items()
    )
    # Identifiers from the models' _meta and fixed fragments only; every value is a parameter.
    sql = (
        f"SELECT {columns}, "  # noqa: S608
        f"(SELECT COUNT(*) FROM (SELECT {c['id']} FROM {names.table} n{where}) _counted) "
        f"FROM {names.table} n LEFT OUTER JOIN {names.users} u "
        f"ON {names.user_id} = {c['created_by']}{where} "
        f"ORDER BY {order} LIMIT %s OFFSET %s"
    )
    return sql, [*params, *params, limit, offset]


def network_page(
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
    contains: Network | None = None,
) -> tuple[list[Row], int]:
    """(rows in selectors.NETWORK_ROW order, total matching) for one page; the total
    comes with the rows, so a page past the end says 0."""
    sql, params = page_statement(
        offset=offset,
        limit=limit,
        status=status,
        search=search,
        needs_review=needs_review,
        ordering=ordering,
        contains=contains,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    count = fetched[0][-1] if fetched else 0
    if fetched and fetched[0][8].tzinfo is None:
        # SQLite hands back naive UTC datetimes (Django stores them so); PostgreSQL aware.
        return [
            (
                *row[:5],
                row[5] and row[5].replace(tzinfo=UTC),
                row[6],
                row[7],
                row[8].replace(tzinfo=UTC),
                row[9].replace(tzinfo=UTC),
                *row[10:13],
            )
            for row in fetched
        ], count
    return [row[:13] for row in fetched], count
