"""Benchmark of a burst of additions against WAF's real latency (prints figures; not a
timed test, pytest does not collect it).

The reliability suite's stack (tests/reliability/harness.py): PostgreSQL, gunicorn with 4
workers in production mode, moto's server as WAF with 150 ms added to every
`update_ip_set` and 50 ms to every `get_ip_set` (tests/reliability/moto_faults.py). Then
50 networks are added over HTTP by 8 and by 16 concurrent clients (each client its own
signed-in editor), REPEATS times each, interleaved; meanwhile one more client edits a
network's label in a loop (a change that leaves WAF as it is: it must not wait for WAF).

Per burst: WAF writes (successful `update_ip_set` calls on the stand-in), whether every
added network is in WAF and the database equals WAF (verified by reading both), the
answers' sync statuses, latency p50/p99 of the additions, p99 of the label edits.
Then the median and the spread (min-max) over the repetitions.

Goals (issue 18): <= 10 WAF writes per burst, every change in WAF, p99 < 1 s with 8
clients and < 1.5 s with 16.

Run: `make bench-burst` (PostgreSQL on 127.0.0.1; the database named by
BENCH_DATABASE_URL, default gatehouse_bench, is dropped and re-created).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["GATEHOUSE_SOAK_DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gatehouse_bench"
)

from tests.reliability import harness  # noqa: E402

ADDS = 50
CLIENTS = (8, 16)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
LATENCY = {"delay": 0.150, "read_delay": 0.050}  # WAF write / read, seconds


def login_all(stack: harness.Stack, count: int) -> list[harness.ApiSession]:
    sessions = [harness.ApiSession(stack.port) for _ in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda i: sessions[i].login(f"editor{i:02d}"), range(count)))
    assert all(r.status == 200 for r in replies), [r.status for r in replies]
    return sessions


def burst(
    stack: harness.Stack,
    sessions: list[harness.ApiSession],
    labeller: harness.ApiSession,
    label_target: int,
    clients: int,
    run: int,
) -> dict:
    cidrs = [f"45.{100 + run}.{i}.0/24" for i in range(ADDS)]
    writes_before = harness.writes(stack)
    done = threading.Event()
    label_times: list[float] = []

    def edit_labels() -> None:
        n = 0
        while not done.is_set():
            reply = labeller.call("PATCH", f"/api/networks/{label_target}", {"label": f"o{n}"})
            assert reply.status == 200, reply
            label_times.append(reply.elapsed_ms)
            n += 1

    editor = threading.Thread(target=edit_labels)
    stack.control(LATENCY)
    started = time.perf_counter()
    editor.start()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [
            pool.submit(harness.allow, sessions[i % clients], cidr, "burst")
            for i, cidr in enumerate(cidrs)
        ]
        outcomes = [f.result(timeout=300) for f in futures]
    wall = time.perf_counter() - started
    done.set()
    editor.join(timeout=60)
    stack.control({})
    waf_writes = harness.writes(stack) - writes_before

    failed = [o for o in outcomes if o.status != 201]
    in_waf = stack.waf_addresses(4)
    stack.assert_db_matches_waf()
    times = [o.elapsed_ms for o in outcomes]
    return {
        "clients": clients,
        "writes": waf_writes,
        "all_in_waf": not failed and set(cidrs) <= in_waf,
        "answers": Counter(o.body["sync"]["status"] for o in outcomes if o.body and not failed),
        "p50": harness.percentile(times, 50),
        "p99": harness.percentile(times, 99),
        "wall": wall,
        "label_p99": harness.percentile(label_times, 99),
        "label_n": len(label_times),
    }


def summary(results: list[dict], key: str) -> str:
    values = [r[key] for r in results]
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        stack = harness.Stack(Path(tmp))
        try:
            stack.start()
            sessions = login_all(stack, max(CLIENTS))
            labeller = harness.ApiSession(stack.port)
            assert labeller.login("editor").status == 200
            office = labeller.call("GET", "/api/networks").json()["results"][0]["id"]
            print(
                f"{ADDS} additions per burst, gunicorn {harness.WORKERS} workers, PostgreSQL, "
                f"WAF write +{LATENCY['delay'] * 1000:.0f} ms, read "
                f"+{LATENCY['read_delay'] * 1000:.0f} ms; {REPEATS} repetitions\n"
            )
            header = (
                f"{'clients':>7} {'run':>3} {'WAF writes':>10} {'all in WAF':>10} "
                f"{'p50 ms':>7} {'p99 ms':>7} {'wall s':>6} {'label p99 ms':>12}  answers"
            )
            print(header)
            results: dict[int, list[dict]] = {c: [] for c in CLIENTS}
            run = 0
            for repeat in range(REPEATS):
                for clients in CLIENTS:  # interleaved: a disturbance hits both alike
                    r = burst(stack, sessions, labeller, office, clients, run)
                    run += 1
                    results[clients].append(r)
                    print(
                        f"{clients:>7} {repeat + 1:>3} {r['writes']:>10} "
                        f"{'yes' if r['all_in_waf'] else 'NO':>10} {r['p50']:>7.0f} "
                        f"{r['p99']:>7.0f} {r['wall']:>6.1f} {r['label_p99']:>12.0f}  "
                        f"{dict(r['answers'])}",
                        flush=True,
                    )
            print("\nmedian (min-max) over the repetitions")
            for clients, rs in results.items():
                every = all(r["all_in_waf"] for r in rs)
                print(
                    f"  {clients:>2} clients: WAF writes {summary(rs, 'writes')}, every change "
                    f"in WAF: {'yes' if every else 'NO'}, p50 {summary(rs, 'p50')} ms, "
                    f"p99 {summary(rs, 'p99')} ms, label edit p99 {summary(rs, 'label_p99')} ms"
                )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
