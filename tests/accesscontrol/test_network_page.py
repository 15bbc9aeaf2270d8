"""Integer bounds on the allowlist and the list page built from them (issue 18, part 4).

- every write path stores the right bounds (save, bulk_create as sync's adoption uses it,
  the data migration for rows that predate them);
- `network_page` (hand-written SQL) answers exactly what the ORM's `network_list` answers,
  for every filter, ordering and page, by offset and by seek (keyset: the rows after or
  before a row's sort key), also over random data with ties and NULLs;
- a seek reads about a page of rows from an index on PostgreSQL, wherever it starts;
- "which networks contain this address" reads the (ip_version, range_start) index
  (EXPLAIN, on SQLite and on PostgreSQL).
"""

import importlib
import ipaddress
import json
from datetime import timedelta
from itertools import product

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accesscontrol import selectors
from accesscontrol.models import AllowedNetwork, network_bounds
from accesscontrol.network_page import Seek, network_page, page_statement, sort_key

pytestmark = pytest.mark.django_db

NETWORKS = [
    # cidr, label, note, expires in hours (None: never), needs review
    ("147.46.0.0/16", "Campus", "", None, False),
    ("147.46.3.0/24", "Lab", "3rd floor", 2, False),
    ("147.46.3.9/32", "Printer", "", -1, False),  # expired
    ("147.46.3.8/30", "Rack", "next to 147.46.3.9", None, True),  # .8-.11: contains .9
    ("147.46.4.0/24", "Other lab", "", None, False),
    ("81.2.69.0/24", "Office", "", None, False),
    ("2a00:1450:4009::/48", "V6 office", "", None, False),
    ("2a00:1450::/32", "V6 wide", "", 5, True),
    ("2a00:1450:4009:81b::/64", "V6 desk", "", -2, False),
    ("2a01::/16", "V6 elsewhere", "", None, False),
]


def _bounds_of(cidr: str) -> tuple[bytes, bytes]:
    row = AllowedNetwork.objects.values_list("range_start", "range_end").get(cidr=cidr)
    return bytes(row[0]), bytes(row[1])


@pytest.fixture
def allowlist(db):
    creator = get_user_model().objects.create_user("creator", password="unused-" + "x" * 20)
    now = timezone.now()
    made = []
    for i, (cidr, label, note, hours, review) in enumerate(NETWORKS):
        network = AllowedNetwork(
            cidr=cidr,
            ip_version=ipaddress.ip_network(cidr).version,
            label=label,
            note=note,
            expires_at=None if hours is None else now + timedelta(hours=hours),
            needs_review=review,
            created_by=creator if i % 2 else None,
        )
        made.append(network)
    AllowedNetwork.objects.bulk_create(made)
    # Distinct creation times, so "newest first" is one order on every database.
    for i, network in enumerate(AllowedNetwork.objects.order_by("id")):
        AllowedNetwork.objects.filter(pk=network.pk).update(
            created_at=now - timedelta(minutes=len(NETWORKS) - i)
        )
    return made


def test_bounds_are_the_first_and_last_address():
    start, end = network_bounds("147.46.3.0/24")
    assert int.from_bytes(start, "big") == int(ipaddress.IPv4Address("147.46.3.0"))
    assert int.from_bytes(end, "big") == int(ipaddress.IPv4Address("147.46.3.255"))
    start, end = network_bounds("2a00:1450::/32")
    assert len(start) == len(end) == 16
    assert int.from_bytes(end, "big") == int(
        ipaddress.IPv6Address("2a00:1450:ffff:ffff:ffff:ffff:ffff:ffff")
    )


def test_save_and_bulk_create_store_the_bounds(allowlist):
    for cidr, *_ in NETWORKS:
        assert _bounds_of(cidr) == network_bounds(cidr)
    single = AllowedNetwork.objects.create(cidr="62.1.2.0/24", ip_version=4, label="x")
    assert _bounds_of(single.cidr) == network_bounds("62.1.2.0/24")
    single.label = "renamed"
    single.save(update_fields=["label"])
    assert _bounds_of(single.cidr) == network_bounds("62.1.2.0/24")


def test_adoption_from_waf_stores_the_bounds():
    from accesscontrol.sync import _adopt

    _adopt(["62.9.9.0/24"], 4, "gatehouse-office-v4", None)
    assert _bounds_of("62.9.9.0/24") == network_bounds("62.9.9.0/24")


def test_the_migration_fills_bounds_of_existing_rows(allowlist):
    AllowedNetwork.objects.update(range_start=b"", range_end=b"")
    migration = importlib.import_module("accesscontrol.migrations.0011_allowednetwork_bounds")
    migration.fill_bounds(apps, connection.schema_editor())
    for cidr, *_ in NETWORKS:
        assert _bounds_of(cidr) == network_bounds(cidr)


def _orm_page(offset, limit, **filters):
    networks = selectors.network_list(**filters)
    rows = [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in networks.values_list(*selectors.NETWORK_ROW)[offset : offset + limit]
    ]
    return rows, networks.count()


def _sql_page(offset, limit, **filters):
    rows, count = network_page(offset=offset, limit=limit, **filters)
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows], count


FILTERS = [
    {},
    {"status": "active"},
    {"status": "expired"},
    {"needs_review": True},
    {"needs_review": False, "status": "active"},
    {"search": "lab"},
    {"search": "147.46.3.9"},  # text (the note) and containing networks
    {"search": "2A00:1450:4009:81b::1"},
    {"search": "50%_off\\"},  # LIKE's wildcards and escape, taken literally
    {"contains": ipaddress.ip_network("147.46.3.9/32")},
    {"contains": ipaddress.ip_network("147.46.3.0/24"), "status": "active"},
    {"contains": ipaddress.ip_network("2a00:1450:4009:81b::1/128")},
    {"contains": ipaddress.ip_network("10.0.0.1/32")},
    {"contains": ipaddress.ip_network("147.46.3.9/32"), "search": "lab"},
]
ORDERINGS = [None, "label", "-label", "expires_at", "-expires_at", "created_at", "-created_at"]


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "none"
)
def test_the_sql_page_is_the_orm_list(allowlist, filters):
    for ordering, (offset, limit) in product(ORDERINGS, [(0, 50), (2, 3)]):
        rows, count = _orm_page(offset, limit, ordering=ordering, **filters)
        # The total rides on the page's rows: a page past the end has none (the API's
        # paginator answers 404 for it).
        expected = (rows, count if rows else 0)
        assert _sql_page(offset, limit, ordering=ordering, **filters) == expected, ordering


def test_containing_finds_exactly_the_networks_that_contain(allowlist):
    def found(text, **filters):
        rows, _ = network_page(offset=0, limit=50, contains=ipaddress.ip_network(text), **filters)
        return {row[1] for row in rows}

    everything = {cidr for cidr, *_ in NETWORKS}
    addresses = ["147.46.3.9", "147.46.3.200", "147.46.9.1", "81.2.69.142", "9.9.9.9"]
    addresses += ["2a00:1450:4009:81b::1", "2a00:1450:ffff::1", "2a01:ffff::1", "2a02::1"]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        expected = {c for c in everything if ip in ipaddress.ip_network(c)}
        assert found(address) == expected, address
    assert found("147.46.3.9") == {
        "147.46.0.0/16",
        "147.46.3.0/24",
        "147.46.3.9/32",
        "147.46.3.8/30",
    }
    # expired entries are listed with their status unless the filter says active
    assert found("147.46.3.9", status="active") == {
        "147.46.0.0/16",
        "147.46.3.0/24",
        "147.46.3.8/30",
    }
    assert found("147.46.3.9", status="expired") == {"147.46.3.9/32"}
    assert found("147.46.3.0/24") == {"147.46.0.0/16", "147.46.3.0/24"}


def _plan(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A test table is tiny: PostgreSQL would rightly scan it. Turned off for this
        # transaction only, it must still be able to answer from the index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _fill_for_the_planner():
    """PostgreSQL picks between the indexes that start with ip_version by its statistics:
    on a handful of rows without any, (ip_version, expires_at) costs the same as the bounds
    index. With an allowlist of realistic size, analysed, the bounds are the selective one."""
    if connection.vendor != "postgresql":
        return
    AllowedNetwork.objects.bulk_create(
        [
            AllowedNetwork(cidr=f"11.{i // 256}.{i % 256}.0/24", ip_version=4, label="bulk")
            for i in range(2_000)
        ]
        + [
            AllowedNetwork(cidr=f"2a01:{i:x}::/48", ip_version=6, label="bulk")
            for i in range(2_000)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AllowedNetwork._meta.db_table}")


@pytest.mark.parametrize("address", ["147.46.3.9", "2a00:1450:4009:81b::1"])
def test_searching_by_address_reads_the_bounds_index(allowlist, address):
    _fill_for_the_planner()
    contains = ipaddress.ip_network(address)
    plan = _plan(*page_statement(offset=0, limit=50, contains=contains))
    assert "network_range_start" in plan, plan
    orm = selectors.network_list(contains=contains).values_list("id")
    assert "network_range_start" in _plan(*orm.query.sql_with_params()), "ORM path"


# --- seek (keyset) pages ----------------------------------------------------------------


def _seek_pages(limit, ordering, **filters):
    """Every page from the first by offset, then forward by seeking after the last row of
    the one before; then backward from the last page by seeking before the first row."""
    rows, _ = _sql_page(0, limit, ordering=ordering, **filters)
    forward = [rows]
    while len(forward[-1]) == limit:
        seek = Seek(sort_key(forward[-1][-1], ordering))
        rows, _ = _sql_page(0, limit, ordering=ordering, seek=seek, **filters)
        if not rows:
            break
        forward.append(rows)
    backward = [forward[-1]]
    while backward[0]:
        seek = Seek(sort_key(backward[0][0], ordering), backward=True)
        rows, _ = _sql_page(0, limit, ordering=ordering, seek=seek, **filters)
        if not rows:
            break
        backward.insert(0, rows)
    return forward, backward


def _check_seek_pages(limit, ordering, **filters):
    everything, count = _orm_page(0, 10**6, ordering=ordering, **filters)
    expected = [everything[i : i + limit] for i in range(0, len(everything), limit)] or [[]]
    forward, backward = _seek_pages(limit, ordering, **filters)
    assert forward == expected, ("forward", ordering, filters)
    # Backward from the last page (which starts where a page starts): the same pages.
    assert backward == expected, ("backward", ordering, filters)


@pytest.fixture
def tied(allowlist):
    """The allowlist plus rows that tie on every sort key but id: same label, creation
    time and expiry (some none, some a shared date), so only id breaks the tie."""
    now = timezone.now()
    shared_expiry = now + timedelta(hours=3)
    made = [
        AllowedNetwork(
            cidr=f"62.0.{i}.0/24",
            ip_version=4,
            label="Lab" if i % 3 else "Twin",
            expires_at=None if i % 2 else shared_expiry,
        )
        for i in range(9)
    ]
    AllowedNetwork.objects.bulk_create(made)
    AllowedNetwork.objects.filter(cidr__startswith="62.0.").update(created_at=now)
    return made


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "none"
)
def test_seek_pages_are_the_orm_list_sliced(tied, filters):
    for ordering, limit in product(ORDERINGS, [1, 2, 3, 7]):
        _check_seek_pages(limit, ordering, **filters)


def test_a_seek_past_the_end_is_empty(tied):
    for ordering in ORDERINGS:
        everything, count = _orm_page(0, 10**6, ordering=ordering)
        after_last = Seek(sort_key(everything[-1], ordering))
        assert _sql_page(0, 5, ordering=ordering, seek=after_last) == ([], 0)
        before_first = Seek(sort_key(everything[0], ordering), backward=True)
        assert _sql_page(0, 5, ordering=ordering, seek=before_first) == ([], 0)
        # The total rides on a seek page too.
        second = Seek(sort_key(everything[0], ordering))
        assert _sql_page(0, 5, ordering=ordering, seek=second) == (everything[1:6], count)


HOURS = st.one_of(st.none(), st.integers(min_value=-3, max_value=3))


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "B", "b", "c", ""]), HOURS, st.integers(0, 2)),
        min_size=0,
        max_size=14,
    ),
    limit=st.integers(min_value=1, max_value=5),
    ordering=st.sampled_from(ORDERINGS),
    status=st.sampled_from([None, "active", "expired"]),
)
def test_seek_pages_over_random_ties_and_nulls(db, rows, limit, ordering, status):
    AllowedNetwork.objects.all().delete()
    now = timezone.now().replace(microsecond=0)
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(
            cidr=f"62.1.{i}.0/24",
            ip_version=4,
            label=label,
            expires_at=None if hours is None else now + timedelta(hours=hours),
        )
        for i, (label, hours, _) in enumerate(rows)
    )
    # Creation times from a few values: many ties, broken by id.
    for network, (_, _, minutes) in zip(AllowedNetwork.objects.order_by("id"), rows, strict=True):
        AllowedNetwork.objects.filter(pk=network.pk).update(
            created_at=now - timedelta(minutes=minutes)
        )
    _check_seek_pages(limit, ordering, status=status)


SEEK_INDEXES = {
    "label": "network_label_seek",
    "-label": "network_label_desc_seek",
    "expires_at": "network_expiry_seek",
    "-expires_at": "network_expiry_desc_seek",
    "created_at": "network_newest_first",
    "-created_at": "network_newest_first",
    None: "network_newest_first",
}


def _fill_for_seeking():
    """4,000 networks, analysed: labels, expiries (a third never) and creation times that
    repeat, so every sort has ties and the planner has statistics to choose by."""
    now = timezone.now()
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(
            cidr=f"11.{i // 256}.{i % 256}.0/24",
            ip_version=4,
            label=f"Site {i % 97}",
            expires_at=None if i % 3 == 0 else now + timedelta(hours=i % 50),
        )
        for i in range(4_000)
    )
    table = AllowedNetwork._meta.db_table  # the model's own name, no input
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            minus = "(id % 300) * interval '1 minute'"
            cursor.execute(f"UPDATE {table} SET created_at = created_at - {minus}")  # noqa: S608
        else:
            minus = "'-' || (id % 300) || ' minutes'"
            cursor.execute(f"UPDATE {table} SET created_at = datetime(created_at, {minus})")  # noqa: S608
        cursor.execute(f"ANALYZE {table}")


def _scanned(node):
    """Rows of the allowlist the page's scans read, and the indexes they read them from
    (EXPLAIN ANALYZE's JSON), the total's subquery aside."""
    if node.get("Parent Relationship") in ("InitPlan", "SubPlan"):
        return 0, set()
    rows, indexes = 0, set()
    if node.get("Relation Name") == AllowedNetwork._meta.db_table:
        rows += node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
        if "Index Name" in node:
            indexes.add(node["Index Name"])
    for child in node.get("Plans", []):
        more, named = _scanned(child)
        rows, indexes = rows + more, indexes | named
    return rows, indexes


@pytest.fixture(scope="module")
def table_for_seeking(django_db_setup, django_db_blocker):
    """_fill_for_seeking once for the tests below (each only reads), in a transaction
    rolled back after the module; each test's own transaction nests in it."""
    with django_db_blocker.unblock(), transaction.atomic():
        _fill_for_seeking()
        yield
        transaction.set_rollback(True)


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("backward", [False, True], ids=["next", "previous"])
def test_a_seek_reads_a_page_of_its_index_wherever_it_starts(
    table_for_seeking, db, ordering, backward
):
    everything, _ = _orm_page(0, 10**6, ordering=ordering)
    for middle in (everything[1999], everything[2999]):
        seek = Seek(sort_key(middle, ordering), backward=backward)
        sql, params = page_statement(offset=0, limit=51, ordering=ordering, seek=seek)
        if connection.vendor == "sqlite":
            # SQLite: a search of one of the seek indexes (any that serves), no table scan.
            plan = _plan(sql, params)
            assert "SEARCH n USING INDEX network_" in plan and "SCAN n" not in plan, plan
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            (plan,) = cursor.fetchone()
        if isinstance(plan, str):
            plan = json.loads(plan)
        rows, indexes = _scanned(plan[0]["Plan"])
        # A page (51 rows, the one more saying whether there is a next), from each of at
        # most two ranges of the index: not the 2,000 or 3,000 rows before it.
        assert rows <= 2 * 51, (rows, json.dumps(plan, indent=1))
        assert indexes == {SEEK_INDEXES[ordering]}, indexes
