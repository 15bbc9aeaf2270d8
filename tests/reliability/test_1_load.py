"""Scenario 1, load: concurrent editors and a churning client, then a burst from 16 clients,
with WAF's real latency injected (150 ms writes, 50 ms reads); the database equals WAF,
the audit trail has one event per change, and group commit keeps WAF writes far below
the number of changes."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.reliability.harness import (
    N_LOAD,
    SHORT,
    THREADS,
    WAF_LATENCY,
    Outcome,
    allow,
    burst,
    expected_audit,
    latency,
    network_events,
    record,
    revoke,
    server_errors,
    writes,
)

pytestmark = pytest.mark.soak


N_CHURN = 3 if SHORT else 5


def test_concurrent_editors_and_churn_end_with_db_equal_to_waf_and_one_audit_event_each(
    stack, editors, editor
):
    churn = {f"45.1.200.{i * 8}/29": None for i in range(N_CHURN)}
    for cidr in churn:
        outcome = allow(editor, cidr, "churn")
        assert outcome.status == 201, outcome
        churn[cidr] = outcome.body["id"]
    marker, writes_before = stack.max_audit_id(), writes(stack)
    wanted = [f"45.1.{i}.0/24" for i in range(N_LOAD)]

    done = threading.Event()
    churned: list[Outcome] = []

    def churn_client() -> None:
        rounds = 0
        while rounds < 2 or not done.is_set():
            for cidr, network_id in list(churn.items()):
                churned.append(revoke(editor, cidr, network_id))
                outcome = allow(editor, cidr, "churn")
                churned.append(outcome)
                if outcome.status == 201:
                    churn[cidr] = outcome.body["id"]
            rounds += 1

    churner = threading.Thread(target=churn_client)
    stack.control(WAF_LATENCY)
    started = time.perf_counter()
    churner.start()
    try:
        added = burst(editors, wanted, "load")
        done.set()
        churner.join(timeout=300)
    finally:
        stack.control({})
    wall = time.perf_counter() - started
    outcomes = added + churned

    assert not server_errors(outcomes), server_errors(outcomes)[:5]
    assert [o.status for o in added] == [201] * N_LOAD, [o for o in added if o.status != 201]
    assert all(o.status in (201, 204) for o in churned), [o for o in churned if o.status >= 300]
    sizes = stack.assert_db_matches_waf()
    active = stack.active_cidrs(4)
    assert set(wanted) <= active and set(churn) <= active
    assert network_events(stack, marker, "45.1.") == expected_audit(outcomes)
    sync = editor.call("GET", "/api/sync").json()
    assert sync["in_sync"], sync
    waf_writes = writes(stack) - writes_before
    syncs = Counter(o.body["sync"]["status"] for o in added if o.body)
    record(
        "1 load",
        editor_sessions=len(editors),
        client_threads=f"{THREADS} + 1 churn",
        waf_latency_ms="write 150, read 50",
        changes=len(outcomes),
        networks_added=N_LOAD,
        churn_removes_readds=len(churned),
        responses_5xx_or_dropped=len(server_errors(outcomes)),
        waf_writes=waf_writes,
        sync_answers=dict(syncs),
        db_equals_waf=f"yes (v4 {sizes[4]}, v6 {sizes[6]})",
        audit_events=sum(expected_audit(outcomes).values()),
        wall_s=wall,
        **latency(outcomes),
    )
    assert waf_writes <= len(outcomes)


def test_a_burst_from_16_clients_is_grouped_into_few_waf_writes(stack, editors, editor):
    marker, writes_before = stack.max_audit_id(), writes(stack)
    wanted = [f"45.1.{100 + i}.0/24" for i in range(N_LOAD)]
    stack.control(WAF_LATENCY)
    try:
        added = burst(editors, wanted, "burst16", threads=16)
    finally:
        stack.control({})

    assert [o.status for o in added] == [201] * N_LOAD, [o for o in added if o.status != 201]
    sizes = stack.assert_db_matches_waf()
    assert set(wanted) <= stack.active_cidrs(4)
    assert network_events(stack, marker, "45.1.1") == expected_audit(added)
    waf_writes = writes(stack) - writes_before
    record(
        "1 load, 16 clients",
        networks_added=N_LOAD,
        waf_latency_ms="write 150, read 50",
        waf_writes=waf_writes,
        sync_answers=dict(Counter(o.body["sync"]["status"] for o in added)),
        db_equals_waf=f"yes (v4 {sizes[4]}, v6 {sizes[6]})",
        **latency(added),
    )
    # Group commit: a round covers every change committed before it (a count, not a time).
    assert waf_writes <= N_LOAD // 2
