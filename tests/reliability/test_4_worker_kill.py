"""Scenario 4, worker SIGKILL: workers killed mid-burst leave no half-applied change; the
next `sync_waf` converges."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.reliability.harness import SHORT, burst, network_events, record

pytestmark = pytest.mark.soak


N_KILL = 16 if SHORT else 40


def test_killed_worker_leaves_no_half_applied_change_and_next_sync_converges(stack, editors):
    marker = stack.max_audit_id()
    wanted = [f"45.4.{i}.0/24" for i in range(N_KILL)]
    killed: list[int] = []

    def killer() -> None:
        for _ in range(2):
            time.sleep(0.3)  # group commit answers a burst within about a second
            pid = stack.workers()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    stack.control({"delay": 0.25})  # a slow WAF: every worker has a request in flight
    try:
        thread = threading.Thread(target=killer)
        thread.start()
        outcomes = burst(editors, wanted, "worker kill")
        thread.join(timeout=60)
    finally:
        stack.control({})
    started = time.perf_counter()
    stack.wait_workers()
    respawn = time.perf_counter() - started

    dropped = [o for o in outcomes if o.status is None]
    answered = [o for o in outcomes if o.status is not None]
    assert len(killed) == 2
    assert dropped, "no request was in flight in a killed worker"
    assert all(o.status == 201 for o in answered), [o for o in answered if o.status != 201]
    in_db = stack.sql("SELECT cidr FROM accesscontrol_allowednetwork WHERE cidr LIKE '45.4.%%'")
    in_db = {r[0] for r in in_db}
    events = network_events(stack, marker, "45.4.")
    for cidr in wanted:  # all or nothing: a saved network has its one event, and vice versa
        assert events["network.allow", cidr] == (1 if cidr in in_db else 0), cidr
    assert {o.cidr for o in answered} <= in_db
    assert set(events) <= {("network.allow", c) for c in wanted}

    stack.manage("sync_waf")
    stack.assert_db_matches_waf()
    saved = sum(1 for o in dropped if o.cidr in in_db)
    record(
        "4 worker SIGKILL",
        changes_sent=N_KILL,
        workers_killed=len(killed),
        answered_201=len(answered),
        dropped_connections=len(dropped),
        dropped_but_committed=saved,
        dropped_and_rolled_back=len(dropped) - saved,
        half_applied=0,
        workers_replaced_s=respawn,
        next_sync_converged="yes",
    )
