"""One page of the allowlist and its total, in one SQL statement written here, not by the ORM.

Why: the list is the console's hottest request, and building, compiling and converting the
same ORM query cost about ten times what running it does (issue 18: 2.8 ms to compile and
3 ms to convert against 0.6 ms in the database). The filters are few and fixed, so the
statement is put together from fragments with the models' table and column names, the
values always as parameters, and each lookup spelled the way Django spells it for the
connection's database (`connection.operators` / `lookup_cast`: LIKE on SQLite, UPPER(...)
LIKE UPPER(...) on PostgreSQL).

A page is found by OFFSET (`page=N`: the database reads and drops every row before it) or
by seeking (keyset; the API's `next`/`previous` cursors): the rows after, or before, a
row's sort key (`sort_key`), read from an index made for each ordering (migration 0015),
so a page deep in the list costs what the first does. Ties are broken by id; NULL expiries
sort as later than any date on both databases (`SORTS`).

Invariant: `network_page(**filters)` returns exactly the rows, in the order, of
`selectors.network_list(**filters).values_list(*NETWORK_ROW)` sliced to the page, and the
count of the whole list; with `seek=Seek(sort_key(row))`, the slice that starts right
after `row` (backward: ends right before it). tests/accesscontrol/test_network_page.py
checks both on SQLite and PostgreSQL. A filter or ordering added to one is added to the
other.
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
from accesscontrol.selectors import NETWORK_ROW, search_network

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


# Each ordering as (field, descending) terms, as selectors.ORDERINGS: ties broken by id.
# Only expires_at is NULLable and always leads; NULL sorts as if it were later than any
# date (never-expiring entries last when soonest first, first when latest first), which is
# PostgreSQL's own rule, so its indexes serve these orders and the seek below as they are.
SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "label": (("label", False), ("created_at", True), ("id", True)),
    "-label": (("label", True), ("created_at", True), ("id", True)),
    "expires_at": (("expires_at", False), ("id", True)),
    "-expires_at": (("expires_at", True), ("id", True)),
    "created_at": (("created_at", False), ("id", False)),
    "-created_at": (("created_at", True), ("id", True)),
}
DEFAULT_ORDERING = "-created_at"
NULLABLE = "expires_at"
# Where each sort field sits in a row (selectors.NETWORK_ROW order).
ROW_INDEX = {name: NETWORK_ROW.index(name) for name in ("id", "label", "expires_at", "created_at")}


def sort_of(ordering: str | None) -> str:
    """The ordering a request's `ordering` means (the default for none or an unknown one)."""
    return ordering if ordering in SORTS else DEFAULT_ORDERING


def sort_key(row: Row, ordering: str | None) -> tuple[Any, ...]:
    """The row's values of the ordering's terms: the boundary a seek starts from."""
    return tuple(row[ROW_INDEX[name]] for name, _ in SORTS[sort_of(ordering)])


def _terms(ordering: str, backward: bool) -> tuple[tuple[str, bool], ...]:
    return tuple((name, desc != backward) for name, desc in SORTS[ordering])


def _order_by(
    columns: dict[str, str], terms: tuple[tuple[str, bool], ...], *, nulls: bool = True
) -> str:
    """ORDER BY terms; `nulls` spells NULL's place (later than any date) for databases
    whose own rule differs (SQLite puts NULL first)."""
    parts = []
    for name, desc in terms:
        part = f"{columns[name]} {'DESC' if desc else 'ASC'}"
        if nulls and name == NULLABLE:
            part += " NULLS FIRST" if desc else " NULLS LAST"
        parts.append(part)
    return ", ".join(parts)


def _param(name: str, value: Any) -> Any:
    if name in ("expires_at", "created_at"):
        return connection.ops.adapt_datetimefield_value(value)
    return value


@dataclass(frozen=True)
class Seek:
    """Where a cursor page starts: the rows after `key` (a row's `sort_key`) in the
    ordering, or with `backward` the rows before it (returned in the ordering's order)."""

    key: tuple[Any, ...]
    backward: bool = False


def _seek(
    c: dict[str, str], terms: tuple[tuple[str, bool], ...], key: tuple[Any, ...]
) -> list[tuple[str, list[Any]]]:
    """The rows strictly after `key` in the order `terms`, as one or two disjoint
    predicates ("branches"), each a range of one index read in order: the leading term
    as a bound the index can seek to (`label >= %s`), the rest as a row comparison (the
    trailing terms of every ordering share one direction). NULL expires_at sorts as later
    than any date, so the rows after a date include every NULL, and the rows after a NULL
    every date when latest first: a second branch."""
    (first, desc), rest = terms[0], terms[1:]
    if len({d for _, d in rest}) != 1:
        raise ValueError(f"trailing terms of one direction expected: {terms}")
    op = "<" if desc else ">"
    tail_op = "<" if rest[0][1] else ">"
    tail_columns = ", ".join(c[name] for name, _ in rest)
    tail_marks = ", ".join(["%s"] * len(rest))
    if len(rest) == 1:
        tail = f"{tail_columns} {tail_op} {tail_marks}"
    else:
        tail = f"({tail_columns}) {tail_op} ({tail_marks})"
    value = key[0]
    tail_values = [_param(name, v) for (name, _), v in zip(rest, key[1:], strict=True)]
    column = c[first]
    if value is None:
        if first != NULLABLE:
            raise ValueError(f"{first} is never NULL")
        nulls = (f"{column} IS NULL AND {tail}", tail_values)
        return [nulls, (f"{column} IS NOT NULL", [])] if desc else [nulls]
    bound = _param(first, value)
    after = (f"{column} {op}= %s AND ({column} {op} %s OR {tail})", [bound, bound, *tail_values])
    if first == NULLABLE and not desc:
        return [after, (f"{column} IS NULL", [])]
    return [after]


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
) -> tuple[list[str], list[Any]]:
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
    return clauses, params


def _where_sql(clauses: list[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def page_statement(
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
    contains: Network | None = None,
    seek: Seek | None = None,
) -> tuple[str, list[Any]]:
    """(SQL, parameters) of one page plus the total, as `network_page` runs it: the page
    `offset` rows in, or with `seek` the `limit` rows after (before) its key (then
    `offset` must be 0), in the order the rows are read (a backward seek reads the
    ordering reversed)."""
    names = _names()
    c = names.cols
    clauses, params = _where(
        c, status=status, search=search, needs_review=needs_review, contains=contains
    )
    where = _where_sql(clauses)
    sort = sort_of(ordering)
    terms = _terms(sort, seek is not None and seek.backward)
    columns = [names.username if name == "created_by" else column for name, column in c.items()]
    # Identifiers from the models' _meta and fixed fragments only; every value is a parameter.
    count = f"(SELECT COUNT(*) FROM (SELECT {c['id']} FROM {names.table} n{where}) _counted)"  # noqa: S608
    source = (
        f"{names.table} n LEFT OUTER JOIN {names.users} u ON {names.user_id} = {c['created_by']}"
    )
    if seek is None:
        sql = (
            f"SELECT {', '.join(columns)}, {count} FROM {source}{where} "  # noqa: S608
            f"ORDER BY {_order_by(c, terms)} LIMIT %s OFFSET %s"
        )
        return sql, [*params, *params, limit, offset]
    if offset:
        raise ValueError("a seek page starts at its key, not at an offset")
    branches = _seek(c, terms, seek.key)
    if len(branches) == 1:
        predicate, values = branches[0]
        sql = (
            f"SELECT {', '.join(columns)}, {count} FROM {source}"  # noqa: S608
            f"{_where_sql([*clauses, predicate])} ORDER BY {_order_by(c, terms)} LIMIT %s"
        )
        return sql, [*params, *params, *values, limit]
    # Two ranges (dates, then the NULLs or the other way round), each read in order up to
    # `limit` rows from its index, and the page taken from their union.
    aliased = ", ".join(f"{column} AS {name}" for column, name in zip(columns, c, strict=True))
    parts: list[str] = []
    branch_params: list[Any] = []
    for predicate, values in branches:
        parts.append(
            f"SELECT * FROM (SELECT {aliased} FROM {source}"  # noqa: S608
            f"{_where_sql([*clauses, predicate])} "
            f"ORDER BY {_order_by(c, terms, nulls=False)} LIMIT %s) _branch{len(parts)}"
        )
        branch_params += [*params, *values, limit]
    outer = {name: f"_page.{name}" for name in c}
    sql = (
        f"SELECT {', '.join(outer.values())}, {count} "  # noqa: S608
        f"FROM ({' UNION ALL '.join(parts)}) _page "
        f"ORDER BY {_order_by(outer, terms)} LIMIT %s"
    )
    return sql, [*params, *branch_params, limit]


def network_page(
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    search: str | None = None,
    needs_review: bool | None = None,
    ordering: str | None = None,
    contains: Network | None = None,
    seek: Seek | None = None,
) -> tuple[list[Row], int]:
    """(rows in selectors.NETWORK_ROW order, total matching) for one page; the total
    comes with the rows, so a page past the end says 0. With `seek`: the `limit` rows
    after its key, or before it when backward (in the ordering's order either way)."""
    sql, params = page_statement(
        offset=offset,
        limit=limit,
        status=status,
        search=search,
        needs_review=needs_review,
        ordering=ordering,
        contains=contains,
        seek=seek,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    count = fetched[0][-1] if fetched else 0
    if seek is not None and seek.backward:
        fetched.reverse()
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
