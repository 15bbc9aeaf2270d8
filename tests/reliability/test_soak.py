"""The reliability and abuse suite (issue 8): the promises of the allowlist, the API and
the WAF sync, checked against real processes (gunicorn with 4 workers on PostgreSQL,
moto's server as AWS with injected faults) over HTTP. Each scenario asserts its outcome
and records its figures; `make soak` prints them as one table at the end.

Scenarios share one running system and run in file order; each works on its own address
range (45.<scenario>.x.x) and checks the invariants that must hold after it: the WAF sets
equal the active networks, and the audit trail has exactly one event per change.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.reliability.conftest import (
    PASSWORD,
    SHORT,
    VIEWER_IP,
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


# -- 2. external writer -----------------------------------------------------------------

N_EXTERNAL = 5 if SHORT else 10


def test_external_writer_additions_are_adopted_with_audit_and_never_deleted(stack, editors, editor):
    marker = stack.max_audit_id()
    wanted = [f"45.2.{i}.0/24" for i in range(N_LOAD)]
    external = [f"45.2.250.{i * 4}/30" for i in range(N_EXTERNAL)]
    name, set_id = stack.set_name(4), stack.ip_set_ids[4]
    between: list[Outcome] = []
    conflicts = Counter()

    def external_writer() -> None:
        """A console user adding addresses by hand: read, add one, write with the lock
        token; on a lock conflict read again and retry."""
        for i, cidr in enumerate(external):
            for tries in range(30):
                current = stack.waf.get_ip_set(Name=name, Scope="CLOUDFRONT", Id=set_id)
                if i == 0 and tries == 0:
                    # The app writes between our read and our write: our token is stale.
                    between.append(allow(editor, "45.2.249.0/24", "between"))
                description = current["IPSet"].get("Description")
                try:
                    stack.waf.update_ip_set(
                        Name=name,
                        Scope="CLOUDFRONT",
                        Id=set_id,
                        Addresses=sorted(set(current["IPSet"]["Addresses"]) | {cidr}),
                        # WAF refuses "" (minimum length 1): send it only when there is one.
                        **({"Description": description} if description else {}),
                        LockToken=current["LockToken"],
                    )
                except stack.waf.exceptions.WAFOptimisticLockException:
                    conflicts["external"] += 1
                    time.sleep(0.02 * (tries + 1))
                    continue
                break
            else:
                raise AssertionError(f"external writer never got {cidr} in")
            time.sleep(0.05)

    conflicts_before = stack.waf_counts().get(f"conflict:{name}", 0)
    writer = threading.Thread(target=external_writer)
    writer.start()
    added = burst(editors, wanted, "load with external writer")
    writer.join(timeout=300)
    assert not writer.is_alive()
    # The console's "Sync now": picks up what the writer added after the last change.
    final = editor.call("POST", "/api/sync", {"dry_run": False})
    assert final.status == 200, final.body

    outcomes = added + between
    assert not server_errors(outcomes), server_errors(outcomes)[:5]
    assert all(o.status == 201 for o in outcomes), [o for o in outcomes if o.status != 201]
    assert conflicts["external"] >= 1  # the stale token was refused, and retried
    waf = stack.waf_addresses(4)
    assert set(external) <= waf, f"deleted from WAF: {sorted(set(external) - waf)}"
    adopted = dict(
        stack.sql(
            "SELECT cidr, source FROM accesscontrol_allowednetwork WHERE cidr = ANY(%s)",
            (external,),
        )
    )
    assert adopted == dict.fromkeys(external, "adopted")
    events = network_events(stack, marker, "45.2.")
    assert {c: events["network.adopt", c] for c in external} == dict.fromkeys(external, 1)
    expected = expected_audit(outcomes) + Counter(("network.adopt", c) for c in external)
    assert events == expected

    # Hostile outside additions (issue 12, item 2): halves of the internet and a private
    # range written into WAF directly are refused by the input rules, removed from WAF at
    # the next sync and audited, never adopted.
    hostile = ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8"]
    current = stack.waf.get_ip_set(Name=name, Scope="CLOUDFRONT", Id=set_id)
    stack.waf.update_ip_set(
        Name=name,
        Scope="CLOUDFRONT",
        Id=set_id,
        Addresses=sorted(set(current["IPSet"]["Addresses"]) | set(hostile)),
        LockToken=current["LockToken"],
    )
    refusing = editor.call("POST", "/api/sync", {"dry_run": False})
    assert refusing.status == 200, refusing.body
    assert not set(hostile) & stack.waf_addresses(4)
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork WHERE cidr = ANY(%s)", (hostile,)
    ) == [(0,)]
    refused_events = dict(
        stack.sql(
            "SELECT subject, count(*) FROM accesscontrol_auditevent "
            "WHERE action = 'network.adopt_refused' AND id > %s GROUP BY subject",
            (marker,),
        )
    )
    assert refused_events == dict.fromkeys(hostile, 1), refused_events
    stack.assert_db_matches_waf()
    app_conflicts = stack.waf_counts().get(f"conflict:{name}", 0) - conflicts_before
    record(
        "2 external writer",
        app_changes=len(outcomes),
        external_additions=N_EXTERNAL,
        adopted_with_audit_event=sum(events["network.adopt", c] for c in external),
        external_deleted=0,
        hostile_outside_additions_refused=f"{len(hostile)}/{len(hostile)} (removed, audited)",
        lock_conflicts_total=app_conflicts,
        lock_conflicts_external_retried=conflicts["external"],
        sync_answers=dict(Counter(o.body["sync"]["status"] for o in outcomes)),
        responses_5xx_or_dropped=0,
        **latency(outcomes),
    )


# -- 3. faults --------------------------------------------------------------------------

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


# -- 4. worker killed -------------------------------------------------------------------

N_KILL = 16 if SHORT else 40


def test_killed_worker_leaves_no_half_applied_change_and_next_sync_converges(stack, editors):
    marker = stack.max_audit_id()
    wanted = [f"45.4.{i}.0/24" for i in range(N_KILL)]
    killed: list[int] = []

    def killer() -> None:
        for _ in range(2):
            time.sleep(1.0)
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


# -- 5. fuzz ----------------------------------------------------------------------------

FUZZ_EXAMPLES = 5 if SHORT else 25


def test_schemathesis_against_the_live_server_finds_no_5xx_and_no_schema_violation(stack):
    """Every operation of the served schema, positive and negative input, as a signed-in
    editor. Not checked: that every schema-valid body is accepted (a string the schema
    allows as "cidr" may still be no network: a 400 with a field message is right)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    base = f"http://127.0.0.1:{stack.port}"
    fuzzer = ApiSession(stack.port)
    assert fuzzer.login("editor").status == 200
    loaded = schemathesis.openapi.from_url(
        f"{base}/api/schema?format=json", headers=fuzzer.headers("GET")
    )
    raw = loaded.raw_schema
    # Authentication is scenario 6's subject: here every request is the editor's.
    raw.get("components", {}).pop("securitySchemes", None)
    for item in raw["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    schema = schemathesis.openapi.from_dict(raw)
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}

    def has_input(label: str) -> bool:
        method, path = label.split(" ", 1)
        definition = raw["paths"][path][method.lower()]
        return bool(definition.get("parameters") or definition.get("requestBody"))

    cases = [(label, GenerationMode.POSITIVE) for label in sorted(operations)] + [
        (label, GenerationMode.NEGATIVE) for label in sorted(operations) if has_input(label)
    ]
    statuses: Counter = Counter()
    known: Counter = Counter()
    failures: dict[str, str] = {}

    def trimmed_to_length(failure, case) -> bool:
        """DRF strips surrounding whitespace before checking max_length, so a string over
        the schema's maxLength only by its padding is accepted (reported, not fixed here)."""
        if not isinstance(failure, AcceptedNegativeData) or "maxLength" not in str(failure):
            return False
        values = [*(case.query or {}).values()]
        values += [*(case.body.values() if isinstance(case.body, dict) else [])]
        return any(isinstance(v, str) and v != v.strip() for v in values)

    def fuzz(label: str, mode: GenerationMode, headers: dict, cookies: dict) -> None:
        @given(case=operations[label].as_strategy(generation_mode=mode))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            response = case.call(base_url=base, headers=headers, cookies=cookies, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code == 414:  # gunicorn's request-line limit, before Django
                known["414 from gunicorn (request line > 4094 B)"] += 1
                return
            try:
                case.validate_response(response, excluded_checks=[positive_data_acceptance])
            except (Failure, FailureGroup) as exc:
                found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
                if not all(trimmed_to_length(f, case) for f in found):
                    raise
                known["over-long padded string accepted (DRF trims first)"] += 1
            if response.status_code == 401:  # signed in: the fuzzing must get past that
                assert response.json()["error"]["code"] != "not_authenticated"

        check()

    for label, mode in cases:
        if fuzzer.call("GET", "/api/me").status == 401:  # the logout operation ran
            assert fuzzer.login("editor").status == 200
        headers = fuzzer.headers("POST")
        for name in ("Cookie", "Host", "Content-Type"):
            headers.pop(name)
        try:
            fuzz(label, mode, headers, dict(fuzzer.cookies))
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            failures[f"{label} {mode.value}"] = str(exc)[:800]

    server = sum(n for status, n in statuses.items() if status >= 500)
    record(
        "5 fuzz (schemathesis)",
        operations=len(operations),
        cases_positive_negative=len(cases),
        requests=sum(statuses.values()),
        by_status=dict(sorted(statuses.items())),
        responses_5xx=server,
        schema_violations=len(failures),
        known_and_tolerated=dict(known) or "none",
    )
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert server == 0
    assert len(operations) >= 13
    stack.assert_db_matches_waf()


# -- 6. abuse ---------------------------------------------------------------------------

ROLES = ("anonymous", "nobody", "viewer", "editor", "root")
ATTACKER_NET_V4 = "62.30.7.0/24"
ATTACKER_NET_V6 = "2a02:c7f:5e1a::/48"
TYPED_PASSWORD = "Hunter2-typed-in-the-username-box"  # noqa: S105


def raw_call(session: ApiSession, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """Send `body` as is (not JSON-encoded); tolerate the server closing before it has all
    of it (a 413 answered without reading the body)."""
    headers = session.headers(method)
    headers["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", session.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n")
        view = memoryview(body)
        try:
            for start in range(0, len(body), 1 << 20):
                sock.sendall(view[start : start + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early; the reply is already in our receive buffer
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    reply = http.client.HTTPResponse(_Received(b"".join(chunks)))  # chunked or not
    reply.begin()
    return reply.status, reply.read()


class _Received:
    """Bytes already read from a socket, for http.client.HTTPResponse to parse."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, *args, **kwargs):
        return io.BytesIO(self.data)


def abuse_hardening(stack, root: ApiSession, editor: ApiSession, viewer: ApiSession) -> dict:
    """Issue 12 over HTTP: the edge's allowlist enforced by Django too, sign-in limits that
    address rotation cannot dodge, hostile bodies, and an audit trail that shows nobody's
    typed secrets. Returns the scenario's figures."""
    # An uncovered viewer with a valid secret (a leaked secret): refused like WAF would,
    # signed in or not; health and sign-out stay open.
    outsider = ApiSession(stack.port, viewer="198.51.100.250", cookies=dict(root.cookies))
    uncovered = [
        outsider.call(method, path, body).status
        for method, path, body in (
            ("GET", "/api/auth/session", None),
            ("GET", "/api/networks", None),
            ("POST", "/api/networks/mine", {"label": "leaked secret"}),
            ("POST", "/api/auth/login", {"username": "root", "password": PASSWORD}),
        )
    ]
    assert uncovered == [403] * 4, uncovered
    assert outsider.call("GET", "/api/networks").json()["error"]["code"] == "viewer_not_allowed"
    assert outsider.call("GET", "/api/health").status == 200
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork WHERE cidr = '198.51.100.250/32'"
    ) == [(0,)]

    # IPv6: 30 wrong passwords from 30 addresses of one /64 are locked out by the 5th.
    v6_statuses = []
    for i in range(30):
        rotating = ApiSession(stack.port, viewer=f"2a02:c7f:5e1a:1::{i + 1:x}")
        rotating.call("GET", "/api/auth/session")
        reply = rotating.call("POST", "/api/auth/login", {"username": "viewer", "password": "x"})
        v6_statuses.append(reply.status)
    assert v6_statuses[:4] == [401] * 4 and set(v6_statuses[4:]) == {429}, v6_statuses

    # Per account: 20 failures from 20 addresses lock the account for everyone.
    account_statuses = []
    for i in range(20):
        spread = ApiSession(stack.port, viewer=f"62.30.7.{i + 10}")
        spread.call("GET", "/api/auth/session")
        reply = spread.call("POST", "/api/auth/login", {"username": "nobody", "password": "x"})
        account_statuses.append(reply.status)
    assert account_statuses == [401] * 19 + [429], account_statuses
    office = ApiSession(stack.port, viewer="81.2.69.11")
    office.call("GET", "/api/auth/session")
    right = office.call("POST", "/api/auth/login", {"username": "nobody", "password": PASSWORD})
    assert right.status == 429 and "account" in right.json()["error"]["message"]

    # Failed sign-ins: the typed text of an unknown user is never stored; viewers and
    # editors do not see sign-in events at all, superusers do (aggregated, with counts).
    typo = ApiSession(stack.port, viewer="62.30.7.99")
    typo.call("GET", "/api/auth/session")
    typo.call("POST", "/api/auth/login", {"username": TYPED_PASSWORD, "password": "x"})
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_auditevent "
        "WHERE subject LIKE %s OR after::text LIKE %s",
        (f"%{TYPED_PASSWORD}%", f"%{TYPED_PASSWORD}%"),
    ) == [(0,)]
    for reader, visible in ((viewer, False), (editor, False), (root, True)):
        page = reader.call("GET", "/api/audit?action=auth.login_failed").json()["results"]
        assert bool(page) is visible, reader.username
    failed_events, failures = stack.sql(
        "SELECT count(*), coalesce(sum((after->>'failures')::int), 0) "
        "FROM accesscontrol_auditevent WHERE action = 'auth.login_failed'"
    )[0]

    # Hostile bodies: 413 and 400 in the error shape, never a 500.
    big_status, big_body = raw_call(editor, "POST", "/api/networks", b"1" * (40 * 1024 * 1024))
    assert big_status == 413, big_body[:200]
    assert json.loads(big_body)["error"]["code"] == "request_too_large"
    nested = b"[" * 100_000 + b"]" * 100_000
    deep_status, deep_body = raw_call(editor, "POST", "/api/networks", nested)
    assert deep_status == 400, deep_body[:200]
    assert json.loads(deep_body)["error"]["code"] == "parse_error"
    assert "Traceback" not in stack.log_tail("gunicorn", 400)

    return {
        "uncovered_viewer_with_secret": f"{len(uncovered)}/{len(uncovered)} refused 403",
        "ipv6_slash64_rotation": f"{v6_statuses.count(401)} x 401 then 429 (30 addresses)",
        "account_limit": "19 x 401 from 19 addresses, 429 on the 20th and for the office",
        "failed_signin_events": f"{failed_events} events for {failures} failures",
        "auth_events_visible_to": "superusers only",
        "40_mib_body": "413",
        "nested_json": "400",
    }


READ = {"anonymous": 401, "nobody": 403, "viewer": 200, "editor": 200, "root": 200}


def write_ok(ok: int) -> dict:
    return {"anonymous": 401, "nobody": 403, "viewer": 403, "editor": ok, "root": ok}


def test_abuse_roles_csrf_brute_force_and_spoofing_are_refused_over_http(stack, root):
    sessions = {role: ApiSession(stack.port) for role in ROLES}
    for role, session in sessions.items():
        if role == "anonymous":
            session.call("GET", "/api/auth/session")  # a CSRF token, so only the role decides
        else:
            assert session.login(role).status == 200, role
    # Behind the edge Django admits only allowlisted viewers, as WAF does: the brute-force
    # attackers below sign in from networks on the allowlist (a colleague's laptop).
    for cidr in (ATTACKER_NET_V4, ATTACKER_NET_V6):
        reply = root.call("POST", "/api/networks", {"cidr": cidr, "label": "abuse viewers"})
        assert reply.status == 201, reply.body
    targets = {}
    for name, cidr in (
        ("read", "45.6.100.0/24"),
        ("editor", "45.6.101.0/24"),
        ("root", "45.6.102.0/24"),
    ):
        reply = root.call("POST", "/api/networks", {"cidr": cidr, "label": f"target {name}"})
        assert reply.status == 201, reply.body
        targets[name] = reply.json()["id"]

    # The role matrix over HTTP.
    matrix = [
        ("GET", "/api/me", None, READ),
        ("GET", "/api/networks", None, READ),
        ("GET", f"/api/networks/{targets['read']}", None, READ),
        ("PATCH", f"/api/networks/{targets['read']}", {"label": "renamed"}, write_ok(200)),
        ("POST", "/api/sync", {"dry_run": True}, write_ok(200)),
        ("GET", "/api/sync", None, READ),
        ("GET", "/api/audit", None, READ),
        ("GET", "/api/admin/", None, {**dict.fromkeys(ROLES, 302), "root": 200}),
    ]
    cells = 0
    mismatches = []
    for method, path, body, expected in matrix:
        for role in ROLES:
            status = sessions[role].call(method, path, body).status
            cells += 1
            if status != expected[role]:
                mismatches.append((method, path, role, status, expected[role]))
    for index, role in enumerate(ROLES):  # adds, each role its own network
        reply = sessions[role].call(
            "POST", "/api/networks", {"cidr": f"45.6.{10 + index}.0/24", "label": "matrix"}
        )
        cells += 1
        if reply.status != write_ok(201)[role]:
            mismatches.append(("POST", "/api/networks", role, reply.status, write_ok(201)[role]))
        target = targets.get(role, targets["read"])
        status = sessions[role].call("DELETE", f"/api/networks/{target}").status
        cells += 1
        if status != write_ok(204)[role]:
            mismatches.append(("DELETE", "/api/networks/<id>", role, status, write_ok(204)[role]))
    wide = {"cidr": "47.0.0.0/12", "label": "wide"}
    editor_wide = sessions["editor"].call("POST", "/api/networks", wide)
    root_wide = sessions["root"].call("POST", "/api/networks", wide)
    assert not mismatches, mismatches
    assert editor_wide.status == 400 and "cidr" in editor_wide.json()["error"]["fields"]
    assert root_wide.status == 201
    assert sessions["root"].call("DELETE", f"/api/networks/{root_wide.json()['id']}").status == 204
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork WHERE cidr = '45.6.100.0/24'"
    ) == [(1,)]  # the refused deletes removed nothing

    # CSRF: a signed-in editor's unsafe request without the token, or with a foreign
    # Origin, is refused and changes nothing; so is a login without the token.
    editor = sessions["editor"]
    no_token = editor.call(
        "POST", "/api/networks", {"cidr": "45.6.50.0/24", "label": "x"}, csrf=False
    )
    foreign = editor.call(
        "POST",
        "/api/networks",
        {"cidr": "45.6.51.0/24", "label": "x"},
        headers={"Origin": "https://evil.example"},
    )
    fresh = ApiSession(stack.port)
    fresh.call("GET", "/api/auth/session")
    login_no_token = fresh.call(
        "POST", "/api/auth/login", {"username": "editor", "password": PASSWORD}, csrf=False
    )
    for reply in (no_token, foreign, login_no_token):
        assert reply.status == 403 and reply.json()["error"]["code"] == "permission_denied"
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork "
        "WHERE cidr IN ('45.6.50.0/24', '45.6.51.0/24')"
    ) == [(0,)]

    # Brute force: failures per username and viewer address lock sign-in (429), and a
    # spoofed X-Forwarded-For does not change who the viewer is.
    attacker = ApiSession(stack.port, viewer="62.30.7.200")
    attacker.call("GET", "/api/auth/session")
    failures = 0
    for attempt_no in range(1, 11):
        reply = attacker.call(
            "POST",
            "/api/auth/login",
            {"username": "target", "password": f"guess-{attempt_no}"},
            headers={"X-Forwarded-For": f"198.18.0.{attempt_no}, 10.0.0.{attempt_no}"},
        )
        if reply.status == 429:
            break
        assert reply.status == 401, reply.body
        failures += 1
    assert reply.status == 429, "never locked out"
    lockout = reply
    locked = reply.json()["error"]
    assert locked["code"] == "locked_out" and locked["retry_after_seconds"] > 0
    assert int(reply.headers["Retry-After"]) > 0
    right = attacker.call("POST", "/api/auth/login", {"username": "target", "password": PASSWORD})
    assert right.status == 429  # even the right password, from the locked address
    elsewhere = ApiSession(stack.port, viewer="81.2.69.10")
    assert elsewhere.login("target").status == 200  # the real user's office is not locked

    # The origin secret: without it (or with a wrong one) nothing but health answers,
    # whatever viewer headers are spoofed.
    spoof = {
        "X-Forwarded-For": f"{VIEWER_IP}, 10.0.0.5",
        "CloudFront-Viewer-Address": f"{VIEWER_IP}:1",
    }
    refused = []
    for secret in (None, "wrong-secret"):
        bare = ApiSession(stack.port, secret=secret, cookies=dict(root.cookies))
        for method, path in (
            ("GET", "/api/auth/session"),
            ("GET", "/api/networks"),
            ("POST", "/api/auth/login"),
            ("POST", "/api/networks"),
            ("GET", "/api/admin/"),
        ):
            reply = bare.call(method, path, {"cidr": "45.6.60.0/24", "label": "x"}, headers=spoof)
            refused.append(reply.status)
            assert reply.status == 403 and reply.json()["error"]["code"] == "origin_forbidden"
        health = bare.call("GET", "/api/health", headers={"Host": "10.0.1.23"})
        assert health.status == 200 and health.json() == {"message": "This is /api/health"}
    # With the secret, CloudFront's viewer address wins over a forged X-Forwarded-For.
    seen = editor.call("GET", "/api/auth/session", headers={"X-Forwarded-For": "9.9.9.9"})
    assert seen.json()["viewer_ip"] == VIEWER_IP
    audit_ips = stack.sql(
        "SELECT DISTINCT host(request_ip) FROM accesscontrol_auditevent "
        "WHERE action = 'network.allow' AND subject LIKE '45.6.%%'"
    )
    assert audit_ips == [(VIEWER_IP,)]

    hardening = abuse_hardening(stack, root, editor, sessions["viewer"])

    record(
        "6 abuse",
        **hardening,
        role_matrix_cells=cells,
        role_mismatches=len(mismatches),
        csrf_refusals="3/3 (403, nothing saved)",
        failed_logins_answered_401=f"{failures}, then 429 on failure {failures + 1}",
        lockout=f"429 locked_out, Retry-After {lockout.headers['Retry-After']} s",
        lockout_survives_spoofed_xff="yes",
        no_origin_secret=f"{len(refused)}/{len(refused)} refused 403 (no header believed), "
        "health 200",
        forged_xff_viewer_ip=f"ignored ({VIEWER_IP})",
    )


# -- 7. limits --------------------------------------------------------------------------

LIMIT = 10_000
FILL = """
import os
from accesscontrol.models import AllowedNetwork, AuditEvent
limit = int(os.environ["SOAK_LIMIT"])
active = AllowedNetwork.objects.active().filter(ip_version=4).count()
existing = set(AllowedNetwork.objects.values_list("cidr", flat=True))
candidates = (f"49.{i // 256}.{i % 256}.0/24" for i in range(2 * limit))
cidrs = [c for c in candidates if c not in existing][: limit - active]
AllowedNetwork.objects.bulk_create(
    [AllowedNetwork(cidr=c, ip_version=4, label="bulk", source="cli") for c in cidrs],
    batch_size=1000,
)
AuditEvent.objects.bulk_create(
    [AuditEvent(actor_name="system", action="network.allow", subject=c, reason="soak fill")
     for c in cidrs],
    batch_size=1000,
)
print(len(cidrs))
"""


def test_ten_thousand_ipv4_entries_sync_in_one_read_and_one_write_and_the_next_is_refused(
    stack, editor
):
    started = time.perf_counter()
    output = stack.manage("shell", "-c", FILL, extra_env={"SOAK_LIMIT": str(LIMIT)}).stdout
    filled = int(output.split()[-1])
    fill_s = time.perf_counter() - started
    assert len(stack.active_cidrs(4)) == LIMIT
    name = stack.set_name(4)

    def cost(counts_before: dict) -> tuple[int, int]:
        after = stack.waf_counts()
        return (
            after.get(f"get_ip_set:{name}", 0) - counts_before.get(f"get_ip_set:{name}", 0),
            after.get(f"update_ip_set:{name}", 0) - counts_before.get(f"update_ip_set:{name}", 0),
        )

    before = stack.waf_counts()
    started = time.perf_counter()
    stack.manage("sync_waf")
    first_s = time.perf_counter() - started
    first = cost(before)
    assert first == (1, 1)
    assert len(stack.waf_addresses(4)) == LIMIT
    stack.assert_db_matches_waf()

    before = stack.waf_counts()
    started = time.perf_counter()
    stack.manage("sync_waf")
    noop_s = time.perf_counter() - started
    noop = cost(before)
    assert noop == (1, 0)

    refused = editor.call("POST", "/api/networks", {"cidr": "45.7.0.0/24", "label": "one too many"})
    assert refused.status == 400, refused.body
    message = refused.json()["error"]["fields"]["cidr"][0]
    assert "10,000" in message and "IPv4" in message, message
    assert len(stack.active_cidrs(4)) == LIMIT
    # The other IP version is not affected by the IPv4 limit.
    v6 = editor.call("POST", "/api/networks", {"cidr": "2a00:1450:4001::/48", "label": "v6"})
    assert v6.status == 201 and v6.json()["sync"]["status"] == "applied"
    stack.assert_db_matches_waf()
    record(
        "7 limits",
        ipv4_entries=LIMIT,
        bulk_inserted=filled,
        bulk_insert_s=fill_s,
        first_sync_reads_writes=f"{first[0]} read + {first[1]} write",
        first_sync_s=first_s,
        unchanged_sync_reads_writes=f"{noop[0]} read + {noop[1]} write",
        unchanged_sync_s=noop_s,
        entry_10001=f"{refused.status}: {message[:70]}...",
    )
