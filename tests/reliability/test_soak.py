"""The reliability and abuse suite (issue 8): the promises of the allowlist, the API and
the WAF sync, checked against real processes (gunicorn with 4 workers on PostgreSQL,
moto's server as AWS with injected faults) over HTTP. Each scenario asserts its outcome
and records its figures; `make soak` prints them as one table at the end.

Scenarios share one running system and run in file order; each works on its own address
range (45.<scenario>.x.x) and checks the invariants that must hold after it: the WAF sets
equal the active networks, and the audit trail has exactly one event per change.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.reliability.conftest import (
    SHORT,
    ApiSession,
    percentile,
    record,
)

pytestmark = pytest.mark.soak

THREADS = 8
N_LOAD = 20 if SHORT else 50
N_CHURN = 3 if SHORT else 5


@dataclass
class Outcome:
    kind: str  # "allow" | "revoke"
    cidr: str
    status: int | None  # None: no answer (connection dropped)
    elapsed_ms: float
    body: dict | None = None
    error: str = ""


def attempt(session: ApiSession, kind: str, cidr: str, method: str, path: str, body=None):
    started = time.perf_counter()
    try:
        reply = session.call(method, path, body)
    except OSError as exc:  # includes http.client's RemoteDisconnected
        return Outcome(kind, cidr, None, (time.perf_counter() - started) * 1000, error=repr(exc))
    data = reply.json() if reply.body else None
    return Outcome(kind, cidr, reply.status, reply.elapsed_ms, data)


def allow(session: ApiSession, cidr: str, label: str = "soak") -> Outcome:
    return attempt(session, "allow", cidr, "POST", "/api/networks", {"cidr": cidr, "label": label})


def revoke(session: ApiSession, cidr: str, network_id: int) -> Outcome:
    return attempt(session, "revoke", cidr, "DELETE", f"/api/networks/{network_id}")


def burst(sessions: list[ApiSession], cidrs: list[str], label: str) -> list[Outcome]:
    """Each cidr added by its own session, THREADS at a time."""
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [
            pool.submit(allow, sessions[i % len(sessions)], cidr, label)
            for i, cidr in enumerate(cidrs)
        ]
        return [f.result(timeout=300) for f in futures]


def expected_audit(outcomes: list[Outcome]) -> Counter:
    """The network events the answered changes must have left: one each."""
    events = Counter()
    for o in outcomes:
        if o.kind == "allow" and o.status == 201:
            events["network.allow", o.cidr] += 1
        elif o.kind == "revoke" and o.status == 204:
            events["network.revoke", o.cidr] += 1
    return events


def network_events(stack, marker: int, prefix: str) -> Counter:
    return Counter(
        (action, subject)
        for action, subject in stack.audit_since(marker)
        if action.startswith("network.") and subject.startswith(prefix)
    )


def latency(outcomes: list[Outcome]) -> dict:
    times = [o.elapsed_ms for o in outcomes if o.status is not None]
    return {
        "latency_p50_ms": percentile(times, 50),
        "latency_p99_ms": percentile(times, 99),
        "latency_max_ms": max(times, default=0.0),
    }


def server_errors(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status is None or o.status >= 500]


def writes(stack, version: int = 4) -> int:
    return stack.waf_counts().get(f"write:{stack.set_name(version)}", 0)


# -- 1. load ----------------------------------------------------------------------------


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
    started = time.perf_counter()
    churner.start()
    added = burst(editors, wanted, "load")
    done.set()
    churner.join(timeout=300)
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
