"""Scenario 3, WAF faults: every change is saved and answered `pending` during a window of
throttling, unavailable entities and lock conflicts; `sync_waf` then converges."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.reliability.harness import (
    SHORT,
    burst,
    expected_audit,
    latency,
    network_events,
    record,
    server_errors,
    writes,
)

pytestmark = pytest.mark.soak


N_FAULT = 10 if SHORT else 30
FAULT_CODES = ["ThrottlingException", "WAFUnavailableEntityException", "WAFOptimisticLockException"]


def test_waf_faults_leave_changes_saved_and_pending_then_sync_waf_converges(stack, editors, editor):
    marker = stack.max_audit_id()
    wanted = [f"45.3.{i}.0/24" for i in range(N_FAULT)]
    waf_before = stack.waf_addresses(4)
    injected_before = stack.waf_counts()
    stack.control({"update_ip_set": FAULT_CODES})
    try:
        started = time.perf_counter()
        outcomes = burst(editors, wanted, "during WAF faults")
        window = time.perf_counter() - started
        during = editor.call("GET", "/api/sync").json()
        waf_during = stack.waf_addresses(4)
    finally:
        injected = stack.waf_counts()
        stack.control({})

    assert not server_errors(outcomes), server_errors(outcomes)[:5]
    assert [o.status for o in outcomes] == [201] * N_FAULT
    answers = Counter(o.body["sync"]["status"] for o in outcomes)
    assert answers == {"pending": N_FAULT}
    assert all(o.body["sync"]["reason"] for o in outcomes)
    v4 = next(s for s in during["sets"] if s["ip_version"] == 4)
    assert not during["in_sync"] and v4["status"] == "pending" and v4["last_error"], v4
    assert waf_during == waf_before  # nothing got through
    assert set(wanted) <= stack.active_cidrs(4)  # ...but every change is saved
    assert network_events(stack, marker, "45.3.") == expected_audit(outcomes)
    fails = sum(1 for action, _ in stack.audit_since(marker) if action == "sync.fail")

    writes_before = writes(stack)
    started = time.perf_counter()
    stack.manage("sync_waf")
    converge = time.perf_counter() - started
    stack.assert_db_matches_waf()
    assert writes(stack) - writes_before == 1
    stack.manage("sync_waf")  # converged: the next one writes nothing
    assert writes(stack) - writes_before == 1
    assert editor.call("GET", "/api/sync").json()["in_sync"]
    record(
        "3 WAF faults",
        changes_in_window=N_FAULT,
        answered_201_pending=answers["pending"],
        responses_5xx_or_dropped=0,
        faults_injected={
            code.replace("Exception", ""): injected.get(f"injected:{code}", 0)
            - injected_before.get(f"injected:{code}", 0)
            for code in FAULT_CODES
        },
        sync_fail_audit_events=fails,
        state_during_window=f"{v4['status']}: {v4['last_error'][:60]}",
        window_s=window,
        sync_waf_after_s=converge,
        sync_waf_writes=1,
        **latency(outcomes),
    )
