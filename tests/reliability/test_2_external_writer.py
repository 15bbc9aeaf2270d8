"""Scenario 2, external writer: addresses added to the WAF set outside Gatehouse during the
load are adopted with an audit event and never deleted; hostile ones are refused."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.reliability.harness import (
    N_LOAD,
    SHORT,
    Outcome,
    allow,
    burst,
    expected_audit,
    latency,
    network_events,
    record,
    server_errors,
)

pytestmark = pytest.mark.soak


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
