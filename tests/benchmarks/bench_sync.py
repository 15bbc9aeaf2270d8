"""Benchmark of the WAF sync (prints figures; not a timed test, pytest does not collect it).

For N = 100, 1,000 and 10,000 active IPv4 networks, against in-process moto:
- full sync: WAF set empty, every address written (fresh gateway: includes finding the
  sets by name);
- no-op sync: nothing changed since (fresh gateway, as a cron run would have);
with wall time (best of 7 interleaved rounds: the machine may be shared, and the minimum
is the run least disturbed by others), WAF calls and DB queries for each.

Goals: no-op = one read per set and no write; DB queries the same at N=100 and N=10,000;
full-sync wall(10,000) / wall(100) <= 3.

Run: `make bench-sync` (SQLite in a throwaway test database) or
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench-sync`.
"""

import gc
import os
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

from accesscontrol.edge import WAF_SCOPE, ip_set_names  # noqa: E402
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState  # noqa: E402
from accesscontrol.services import sync_waf_ip_sets  # noqa: E402
from accesscontrol.waf import WafIpSetGateway  # noqa: E402

SIZES = (100, 1_000, 10_000)
REPEATS = 7


def networks(n: int) -> list[AllowedNetwork]:
    # Distinct public /32s: 11.x.y.z (11.0.0.0/8 is ordinary unicast space).
    return [
        AllowedNetwork(
            cidr=f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32", ip_version=4, label=f"n{i}"
        )
        for i in range(n)
    ]


def empty_waf(client, ids: dict[int, str], names: dict[int, str]) -> None:
    for version, name in names.items():
        token = client.get_ip_set(Name=name, Scope=WAF_SCOPE, Id=ids[version])["LockToken"]
        client.update_ip_set(
            Name=name, Scope=WAF_SCOPE, Id=ids[version], Addresses=[], LockToken=token
        )
    IpSetSyncState.objects.all().delete()


def measure() -> tuple[float, dict, int, bool]:
    gc.collect()
    gateway = WafIpSetGateway.from_settings()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = sync_waf_ip_sets(gateway=gateway)
        elapsed = time.perf_counter() - started
    return elapsed, dict(gateway.calls), len(queries), report.in_sync


def load(n: int) -> None:
    """Exactly n active networks, nothing synced yet (not timed)."""
    AllowedNetwork.objects.all().delete()
    AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)  # append-only in the app
    AllowedNetwork.objects.bulk_create(networks(n), batch_size=2000)


def run(sizes: tuple[int, ...], repeats: int) -> list[dict]:
    """Rounds interleave the sizes, so a busy moment on the machine hits all of them."""
    full = {n: [] for n in sizes}
    noop = {n: [] for n in sizes}
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
                load(n)
                empty_waf(client, ids, names)
                full[n].append(measure())
                noop[n].append(measure())
                stored = client.get_ip_set(Name=names[4], Scope=WAF_SCOPE, Id=ids[4])
                assert len(stored["IPSet"]["Addresses"]) == n
    assert all(r[3] for n in sizes for r in full[n] + noop[n]), "sync did not reach in_sync"
    return [
        {
            "n": n,
            "full_s": min(r[0] for r in full[n]),
            "full_calls": full[n][-1][1],
            "full_queries": full[n][-1][2],
            "noop_s": min(r[0] for r in noop[n]),
            "noop_calls": noop[n][-1][1],
            "noop_queries": noop[n][-1][2],
        }
        for n in sizes
    ]


def calls(counter: dict) -> str:
    return ", ".join(f"{op}={count}" for op, count in sorted(counter.items())) or "none"


def main() -> int:
    old_config = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run((10,), 1)  # warm-up: boto3 loads its service model once per process
        results = run(SIZES, REPEATS)
    finally:
        connection.creation.destroy_test_db(old_config, verbosity=0)

    print(f"WAF sync benchmark ({connection.vendor}, in-process moto, best of {REPEATS})")
    print(f"{'N':>7}  {'full sync':>10}  {'queries':>7}  {'no-op':>8}  {'queries':>7}  WAF calls")
    for r in results:
        print(
            f"{r['n']:>7}  {r['full_s'] * 1000:>8.1f}ms  {r['full_queries']:>7}  "
            f"{r['noop_s'] * 1000:>6.1f}ms  {r['noop_queries']:>7}  "
            f"full: {calls(r['full_calls'])}; no-op: {calls(r['noop_calls'])}"
        )
    small, large = results[0], results[-1]
    ratio = large["full_s"] / small["full_s"]
    goals = {
        "no-op sync = 1 read per set, 0 writes": all(
            r["noop_calls"] == {"get_ip_set": 2} for r in results
        ),
        "DB queries equal at N=100 and N=10,000": (
            small["full_queries"] == large["full_queries"]
            and small["noop_queries"] == large["noop_queries"]
        ),
        f"full(10,000)/full(100) = {ratio:.2f} <= 3": ratio <= 3,
    }
    for goal, met in goals.items():
        print(f"{'MET ' if met else 'MISS'} {goal}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
