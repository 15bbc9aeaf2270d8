"""Group commit of WAF writes (accesscontrol.sync), one step at a time: a change covered
by someone else's round answers "applied" without calling WAF; one that times out answers
"pending" and the scheduled sync applies it; a syncer that dies mid-round loses nothing; a
label or note edit never waits. Real boto3 calls against moto; WAF writes counted on
moto's backend. The waiting itself runs on a simulated clock (`sync._wait_for_news`
replaced), so nothing here sleeps; tests/accesscontrol/test_concurrency.py races real
threads on PostgreSQL."""

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from moto.wafv2.models import WAFV2Backend

from accesscontrol import sync
from accesscontrol.exceptions import NetworkConflict
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from accesscontrol.services import Requester, allow_network, sync_waf_ip_sets, update_network
from accesscontrol.waf import WafIpSetGateway

from .conftest import HOME_V4, OFFICE_V4

pytestmark = pytest.mark.django_db

SYSTEM = Requester()
BRANCH_V4 = "81.2.71.0/24"
SHOP_V4 = "81.2.72.0/24"


def add(cidr, gateway):
    return allow_network(requester=SYSTEM, cidr=cidr, label=f"net {cidr}", gateway=gateway)


def state():
    return IpSetSyncState.objects.get(ip_version=4)


def hold_lease(holder="other-worker:123", seconds=3600):
    """Another request is the set's syncer (or was, until it died)."""
    IpSetSyncState.objects.filter(ip_version=4).update(
        syncer=holder, syncer_until=timezone.now() + timedelta(seconds=seconds)
    )


@pytest.fixture
def waf_writes(monkeypatch):
    """Successful update_ip_set calls as moto's backend sees them, from any client."""
    original = WAFV2Backend.update_ip_set
    writes = []

    def counting(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        writes.append(args[0])
        return result

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", counting)
    return writes


def test_a_waiter_covered_by_another_round_answers_applied_without_calling_waf(
    gateway, waf, waf_writes, monkeypatch, settings
):
    add(OFFICE_V4, gateway)
    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 5
    hold_lease()
    waits = []

    def another_round_ends(seconds):
        # While this change waits, the lease holder's round runs (the same round any
        # sync runs) and covers it.
        waits.append(seconds)
        sync_waf_ip_sets(gateway=WafIpSetGateway.from_settings())

    monkeypatch.setattr(sync, "_wait_for_news", another_round_ends)
    waiter = WafIpSetGateway.from_settings(sleep=lambda s: None)
    writes_before = len(waf_writes)

    change = add(HOME_V4, waiter)

    assert change.sync.status == "applied"
    assert len(waits) == 1
    assert waiter.calls == Counter()  # no read, no write: the other round covered it
    assert len(waf_writes) - writes_before == 1  # the other round's write, and only it
    assert waf.addresses(4) == {OFFICE_V4, HOME_V4}
    assert state().applied_generation == state().desired_generation


def test_a_waiter_that_times_out_answers_pending_and_the_scheduled_sync_applies_it(
    gateway, waf, waf_writes, settings
):
    add(OFFICE_V4, gateway)
    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 0
    hold_lease()  # a syncer that does not finish in time
    before = state().desired_generation

    change = add(HOME_V4, gateway := WafIpSetGateway.from_settings())

    assert change.sync.status == "pending"
    assert "did not confirm" in change.sync.reason
    assert gateway.calls == Counter()
    assert waf.addresses(4) == {OFFICE_V4}
    assert AllowedNetwork.objects.filter(cidr=HOME_V4).exists()  # saved all the same
    assert (state().desired_generation, state().applied_generation) == (before + 1, before)
    # A change refused inside its transaction moves nothing on.
    with pytest.raises(NetworkConflict):
        add(HOME_V4, gateway)
    assert state().desired_generation == before + 1

    call_command("sync_waf", stdout=io.StringIO())  # the schedule needs no lease

    assert waf.addresses(4) == {OFFICE_V4, HOME_V4}
    assert state().applied_generation == before + 1


class WorkerDied(BaseException):
    """The process ends here: nothing after it runs (not an Exception: no handler of ours
    catches it)."""


def test_a_syncer_that_dies_mid_round_loses_nothing(gateway, waf, monkeypatch, settings):
    add(OFFICE_V4, gateway)
    original = WAFV2Backend.update_ip_set

    def write_then_die(self, *args, **kwargs):
        original(self, *args, **kwargs)  # WAF took the write...
        raise WorkerDied  # ...and the worker died before its round committed

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", write_then_die)
    with pytest.raises(WorkerDied):
        add(HOME_V4, WafIpSetGateway.from_settings(sleep=lambda s: None))
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", original)
    # The change committed before the round began; the round recorded nothing.
    assert AllowedNetwork.objects.filter(cidr=HOME_V4).exists()
    assert state().applied_generation < state().desired_generation
    assert HOME_V4 not in state().last_applied
    # A killed process releases nothing: its lease stays until it runs out.
    hold_lease("dead-worker:1", seconds=sync.SYNCER_LEASE.total_seconds())

    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 0
    meanwhile = add(BRANCH_V4, WafIpSetGateway.from_settings())
    assert meanwhile.sync.status == "pending"  # answered, not stuck behind the dead one

    IpSetSyncState.objects.filter(ip_version=4).update(
        syncer_until=timezone.now() - timedelta(seconds=1)  # the dead lease ran out
    )
    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 5
    after = add(SHOP_V4, WafIpSetGateway.from_settings(sleep=lambda s: None))

    assert after.sync.status == "applied"
    everything = {OFFICE_V4, HOME_V4, BRANCH_V4, SHOP_V4}
    assert waf.addresses(4) == everything
    assert set(state().last_applied) == everything
    assert state().applied_generation == state().desired_generation
    assert (state().syncer, state().syncer_until) == ("", None)
    # The dead round's write is ours, not an outside addition to adopt.
    assert not AuditEvent.objects.filter(action__startswith="network.adopt").exists()


def test_a_label_or_note_edit_never_waits_for_waf(gateway, waf, monkeypatch, settings):
    network = add(OFFICE_V4, gateway).network
    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 60
    hold_lease()

    def no_waiting(seconds):
        raise AssertionError("a label edit waited for WAF")

    monkeypatch.setattr(sync, "_wait_for_news", no_waiting)
    editor = WafIpSetGateway.from_settings()
    generation = state().desired_generation

    change = update_network(
        requester=SYSTEM, network=network, changes={"label": "HQ"}, gateway=editor
    )
    assert change.sync.status == "applied"  # WAF holds every change so far

    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 0
    assert add(HOME_V4, editor).sync.status == "pending"  # a change WAF does not hold yet
    settings.GATEHOUSE_SYNC_WAIT_SECONDS = 60
    change = update_network(
        requester=SYSTEM, network=network, changes={"note": "3rd floor"}, gateway=editor
    )

    assert change.sync.status == "pending"  # said at once, not waited for
    assert "does not alter WAF" in change.sync.reason
    assert editor.calls == Counter()
    assert state().desired_generation == generation + 1  # only the addition moved it
    network.refresh_from_db()
    assert (network.label, network.note) == ("HQ", "3rd floor")
