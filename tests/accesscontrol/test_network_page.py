"""Integer bounds on the allowlist and the list page built from them (issue 18, part 4).

- every write path stores the right bounds (save, bulk_create as sync's adoption uses it,
  the data migration for rows that predate them);
- `network_page` (hand-written SQL) answers exactly what the ORM's `network_list` answers,
  for every filter, ordering and page;
- "which networks contain this address" reads the (ip_version, range_start) index
  (EXPLAIN, on SQLite and on PostgreSQL).
"""

import importlib
import ipaddress
from datetime import timedelta
from itertools import product

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accesscontrol import selectors
from accesscontrol.models import AllowedNetwork, network_bounds
from accesscontrol.network_page import network_page, page_statement

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
