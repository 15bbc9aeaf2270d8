"""Scenario 7, limits: 10,000 IPv4 networks sync in one read and one write; the next one is
refused. Runs last: it fills the IPv4 set."""

from __future__ import annotations

import time

import pytest

from tests.reliability.harness import record

pytestmark = pytest.mark.soak


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
