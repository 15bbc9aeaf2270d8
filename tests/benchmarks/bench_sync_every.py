"""CPU cost of one no-op interval of `sync_waf --every` (prints figures; not a test).

Runs against the local stack (moto's server over HTTP and the stack's database), as the
long-running process would: one process, one gateway (boto3 client and set ids reused),
each interval = close_old_connections + the claim UPDATE + the sync + its summary. CPU is
`resource.getrusage(RUSAGE_SELF)` user + system around each interval.

Run with `make run` up, from another terminal:
`set -a; . var/local.env; set +a; .venv/bin/python tests/benchmarks/bench_sync_every.py`
"""

import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")

import django  # noqa: E402

django.setup()

from accesscontrol.audit import command_line_requester  # noqa: E402
from accesscontrol.localmode import refuse_real_aws_in_local_mode  # noqa: E402
from accesscontrol.schedule import SyncLoop, claim_interval  # noqa: E402
from accesscontrol.sync import sync_waf_ip_sets  # noqa: E402
from accesscontrol.waf import WafIpSetGateway  # noqa: E402

INTERVALS = 50
TINY = 0.001  # the claim's interval: every call here is a new interval


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    refuse_real_aws_in_local_mode()
    gateway = WafIpSetGateway.from_settings()
    requester = command_line_requester("bench_sync_every")
    outcomes: list[bool] = []

    def sync() -> None:
        report = sync_waf_ip_sets(requester=requester, gateway=gateway)
        outcomes.append(report.in_sync and not any(s.wrote for s in report.sets))

    loop = SyncLoop(
        interval=60, sync=sync, claim=lambda: claim_interval(interval=TINY, holder="bench")
    )
    loop.run_interval()  # warm-up: builds the client, finds the sets
    cpu_ms, wall_ms = [], []
    for _ in range(INTERVALS):
        time.sleep(0.01)
        c0, w0 = cpu(), time.perf_counter()
        loop.run_interval()
        cpu_ms.append((cpu() - c0) * 1000)
        wall_ms.append((time.perf_counter() - w0) * 1000)
    print(
        f"{INTERVALS} no-op intervals after a warm-up: {loop.syncs - 1} synced, "
        f"{loop.failures} failed, all in sync with no write: {all(outcomes)}"
    )
    for name, values in (("cpu ms", cpu_ms), ("wall ms", wall_ms)):
        q = statistics.quantiles(values, n=10)
        print(
            f"{name:8} min {min(values):6.1f}  median {statistics.median(values):6.1f}  "
            f"p90 {q[-1]:6.1f}  max {max(values):6.1f}"
        )


if __name__ == "__main__":
    main()
