"""Benchmark of the bulk import (prints figures; not a timed test, pytest does not collect it).

Imports a CSV of N new IPv4 networks (N = 1,000 and 10,000) into an empty allowlist through
`accesscontrol.bulk.import_networks`, the function the API and `manage.py import_networks`
share, against in-process moto: wall time (check + save + audit + the one sync), WAF calls
by operation, SQL queries. Also a dry run (checks only). REPEATS rounds, interleaved; the
table shows min / median / max wall time.

Goals: one UpdateIPSet for the whole import; SQL queries grow with N only by the batch
count (bulk inserts, cidr lookups of 2,000), not per line.

Run: `make bench-import` (SQLite in a throwaway test database) or
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench-import`.
"""

import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-" + "x" * 40)
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)  # in-process moto, never a real endpoint
os.environ.pop("AWS_PROFILE", None)

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from moto import mock_aws  # noqa: E402

from accesscontrol.audit import Requester  # noqa: E402
from accesscontrol.bulk import import_networks  # noqa: E402
from accesscontrol.edge import WAF_SCOPE, ip_set_names  # noqa: E402
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState  # noqa: E402
from accesscontrol.waf import WafIpSetGateway  # noqa: E402

SIZES = (1_000, 10_000)
REPEATS = 5
REQUESTER = Requester(name="bench:import", user_agent="bench_import.py")


def csv_text(n: int) -> str:
    # Distinct public /32s in 11.0.0.0/8 (ordinary unicast), a label and a note each.
    rows = [
        f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32,Branch {i},imported by the benchmark,"
        for i in range(n)
    ]
    return "cidr,label,note,expires_at\n" + "\n".join(rows) + "\n"


def reset(client, ids: dict[int, str], names: dict[int, str]) -> None:
    """An empty allowlist and empty WAF sets (not timed)."""
    AllowedNetwork.objects.all().delete()
    AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)  # append-only in the app
    for version, name in names.items():
        token = client.get_ip_set(Name=name, Scope=WAF_SCOPE, Id=ids[version])["LockToken"]
        client.update_ip_set(
            Name=name, Scope=WAF_SCOPE, Id=ids[version], Addresses=[], LockToken=token
        )
    # A new moto session has new set ids: forget the remembered ones too.
    IpSetSyncState.objects.update(last_applied=[], status="pending", ip_set_id="")


def measure(text: str, *, dry_run: bool) -> tuple[float, dict, int, int]:
    gc.collect()
    gateway = WafIpSetGateway.from_settings()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = import_networks(requester=REQUESTER, text=text, dry_run=dry_run, gateway=gateway)
        elapsed = time.perf_counter() - started
    assert not report.refused, report.refused[:3]
    made = len(report.created)
    return elapsed, dict(gateway.calls), len(queries), made


def run(sizes: tuple[int, ...], repeats: int) -> dict[int, dict[str, list]]:
    results: dict[int, dict[str, list]] = {n: {"import": [], "dry": []} for n in sizes}
    texts = {n: csv_text(n) for n in sizes}
    with mock_aws():
        client = boto3.client("wafv2", region_name="us-east-1")
        names = ip_set_names("gatehouse")
        ids = {
            v: client.create_ip_set(
                Name=name, Scope=WAF_SCOPE, IPAddressVersion=f"IPV{v}", Addresses=[]
            )["Summary"]["Id"]
            for v, name in names.items()
        }
        for _ in range(repeats):
            for n in sizes:
                reset(client, ids, names)
                results[n]["dry"].append(measure(texts[n], dry_run=True))
                results[n]["import"].append(measure(texts[n], dry_run=False))
                stored = client.get_ip_set(Name=names[4], Scope=WAF_SCOPE, Id=ids[4])
                assert len(stored["IPSet"]["Addresses"]) == n
                assert AuditEvent.objects.filter(action="network.allow").count() == n
    return results


def spread(samples: list[tuple]) -> str:
    times = [s[0] * 1000 for s in samples]
    return f"{min(times):8.0f} / {statistics.median(times):6.0f} / {max(times):6.0f} ms"


def calls(counter: dict) -> str:
    return ", ".join(f"{op}={count}" for op, count in sorted(counter.items())) or "none"


def main() -> int:
    old_config = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run((10,), 1)  # warm-up: boto3 loads its service model once per process
        results = run(SIZES, REPEATS)
    finally:
        connection.creation.destroy_test_db(old_config, verbosity=0)

    print(
        f"Bulk import benchmark ({connection.vendor}, in-process moto, {REPEATS} rounds; "
        "wall time min / median / max)"
    )
    for n, kinds in results.items():
        imported, dry = kinds["import"], kinds["dry"]
        print(
            f"N={n:>6} import  {spread(imported)}  queries={imported[-1][2]:>4}  "
            f"WAF: {calls(imported[-1][1])}"
        )
        print(f"N={n:>6} dry run {spread(dry)}  queries={dry[-1][2]:>4}  WAF: {calls(dry[-1][1])}")
    goals = {
        "one UpdateIPSet per import": all(
            r[1].get("update_ip_set") == 1 for kinds in results.values() for r in kinds["import"]
        ),
        "dry run writes nothing to WAF": all(
            not r[1] for kinds in results.values() for r in kinds["dry"]
        ),
    }
    large = results[SIZES[-1]]["import"][-1][2]
    # Batched: SQLite binds at most 999 parameters per statement (~90 rows per INSERT),
    # PostgreSQL takes the 1,000-row batches whole; either way far below one per line.
    goals[f"{large} SQL queries for {SIZES[-1]:,} lines: batched, not per line"] = (
        large <= SIZES[-1] // 40
    )
    for goal, met in goals.items():
        print(f"{'MET ' if met else 'MISS'} {goal}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
