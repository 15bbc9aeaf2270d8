"""A burst of changes from many threads: nothing lost, and WAF writes coalesce by group
commit (accesscontrol.sync): one request at a time runs the set's sync round, and a
request whose change a round already covered answers "applied" without calling WAF at
all. The guards (emptying the allowlist, the 10,000 limit) hold under the same races."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from moto.wafv2.models import WAFV2Backend

from accesscontrol.models import AllowedNetwork, IpSetSyncState
from accesscontrol.services import Requester, allow_network
from accesscontrol.waf import WafIpSetGateway

THREADS = 20

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite has no row locks (select_for_update is a no-op) and "
        "locks the whole database per writer, so concurrent writers fail instead of queueing",
    ),
]


def test_twenty_concurrent_additions_reach_waf_and_covered_ones_never_call_it(waf, monkeypatch):
    original = WAFV2Backend.update_ip_set
    writes = []

    def counting_update(self, *args, **kwargs):
        writes.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", counting_update)
    start = threading.Barrier(THREADS)
    outcomes, errors = [], []
    gateways = [WafIpSetGateway.from_settings() for _ in range(THREADS)]

    def add(i: int) -> None:
        try:
            start.wait()
            change = allow_network(
                requester=Requester(),
                cidr=f"81.2.{100 + i}.0/24",
                label=f"branch {i}",
                gateway=gateways[i],
            )
            outcomes.append(change.sync.status)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    expected = {f"81.2.{100 + i}.0/24" for i in range(THREADS)}
    assert errors == []
    assert outcomes == ["applied"] * THREADS
    assert set(AllowedNetwork.objects.values_list("cidr", flat=True)) == expected
    assert waf.addresses(4) == expected
    # Every write came from a request that ran a round; the others never called WAF.
    rounds = [g for g in gateways if g.calls]
    assert sum(g.calls["update_ip_set"] for g in gateways) == len(writes)
    assert all(g.calls["get_ip_set"] >= 1 for g in rounds)
    assert 1 <= len(writes) <= len(rounds) <= THREADS // 2
    state = IpSetSyncState.objects.get(ip_version=4)
    assert (state.status, set(state.last_applied)) == ("in_sync", expected)
    assert state.applied_generation == state.desired_generation
    assert (state.syncer, state.syncer_until) == ("", None)
    print(f"{THREADS} concurrent changes -> {len(rounds)} rounds, {len(writes)} WAF writes")


def test_two_admins_revoking_the_last_two_networks_at_once_cannot_empty_it(waf, monkeypatch):
    from accesscontrol import selectors, services
    from accesscontrol.exceptions import EmptyAllowlist

    first = allow_network(requester=Requester(), cidr="81.2.90.0/24", label="a").network
    second = allow_network(requester=Requester(), cidr="81.2.91.0/24", label="b").network
    # Widen the window between "is another network left?" and the delete, so both
    # revokes would pass the check if nothing serialised them.
    real_covering = selectors.networks_covering

    def slow_covering(**kwargs):
        time.sleep(0.5)
        return real_covering(**kwargs)

    monkeypatch.setattr(services.selectors, "networks_covering", slow_covering)
    start = threading.Barrier(2)
    outcomes = []

    def revoke(network) -> None:
        try:
            start.wait()
            services.revoke_network(
                requester=Requester(ip="198.51.100.7"),
                network=network,
                gateway=WafIpSetGateway.from_settings(),
            )
            outcomes.append("revoked")
        except EmptyAllowlist:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=revoke, args=(n,)) for n in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused", "revoked"]
    assert AllowedNetwork.objects.count() == 1
    assert waf.addresses(4) == set(AllowedNetwork.objects.values_list("cidr", flat=True))


def test_an_expiry_and_a_removal_at_once_cannot_leave_no_permanent_network(waf, monkeypatch):
    """Issue 12 item 1 under concurrency: an expiry change takes the same lock as a revoke."""
    from accesscontrol import selectors, services
    from accesscontrol.exceptions import EmptyAllowlist

    first = allow_network(requester=Requester(), cidr="81.2.90.0/24", label="a").network
    second = allow_network(requester=Requester(), cidr="81.2.91.0/24", label="b").network
    real_covering = selectors.networks_covering

    def slow_covering(**kwargs):  # between the checks and the write, in both changes
        time.sleep(0.5)
        return real_covering(**kwargs)

    monkeypatch.setattr(services.selectors, "networks_covering", slow_covering)
    start = threading.Barrier(2)
    outcomes = []
    soon = timezone.now() + timedelta(hours=1)
    viewer = Requester(ip="198.51.100.7")

    def run(change) -> None:
        try:
            start.wait()
            change()
            outcomes.append("done")
        except EmptyAllowlist:
            outcomes.append("refused")
        finally:
            connections.close_all()

    gateway = WafIpSetGateway.from_settings
    changes = [
        lambda: services.update_network(
            requester=viewer, network=first, changes={"expires_at": soon}, gateway=gateway()
        ),
        lambda: services.revoke_network(requester=viewer, network=second, gateway=gateway()),
    ]
    threads = [threading.Thread(target=run, args=(c,)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["done", "refused"]
    assert AllowedNetwork.objects.filter(expires_at__isnull=True).exists()


def test_two_additions_at_the_limit_cannot_both_fit(waf, monkeypatch):
    """Issue 12 item 3: the 10,000 count and the insert happen under one lock."""
    from django.core.exceptions import ValidationError
    from django.db.models import QuerySet

    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"11.{i // 256}.{i % 256}.0/24", ip_version=4, label="bulk")
        for i in range(9_999)
    )
    real_count = QuerySet.count

    def slow_count(self):  # widen the window between counting and inserting
        result = real_count(self)
        if self.model is AllowedNetwork:
            time.sleep(0.5)
        return result

    monkeypatch.setattr(QuerySet, "count", slow_count)
    start = threading.Barrier(2)
    outcomes = []

    def add(cidr: str) -> None:
        try:
            start.wait()
            allow_network(
                requester=Requester(),
                cidr=cidr,
                label=cidr,
                gateway=WafIpSetGateway.from_settings(),
            )
            outcomes.append("added")
        except ValidationError as exc:
            outcomes.append("limit" if "10,000" in str(exc) else repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(c,)) for c in ("81.2.92.0/24", "81.2.93.0/24")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["added", "limit"]
    assert AllowedNetwork.objects.active().filter(ip_version=4).count() == 10_000
