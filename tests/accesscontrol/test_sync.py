"""The three-way merge into WAF: no-op cost, adoption, drift, expiry, lock conflicts,
outages, missing sets. Real boto3 calls against moto; faults injected into moto's backend."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from moto.core.exceptions import JsonRESTError
from moto.wafv2.models import WAFV2Backend

from accesscontrol.edge import WAF_SCOPE
from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from accesscontrol.services import Requester, allow_network, sync_waf_ip_sets
from accesscontrol.waf import WafIpSetGateway, wafv2_client

from .conftest import HOME_V4, OFFICE_V4, OFFICE_V6

pytestmark = pytest.mark.django_db

SYSTEM = Requester()


def add(cidr, gateway, **kwargs):
    return allow_network(
        requester=SYSTEM, cidr=cidr, label=f"net {cidr}", gateway=gateway, **kwargs
    )


def fresh_gateway():
    return WafIpSetGateway.from_settings(sleep=lambda seconds: None)


def state(version):
    return IpSetSyncState.objects.get(ip_version=version)


def test_sync_when_nothing_changed_is_one_read_per_set_and_no_write(gateway, waf):
    add(OFFICE_V4, gateway)
    add(OFFICE_V6, gateway)
    sync_waf_ip_sets(gateway=gateway)
    audit_before = AuditEvent.objects.count()

    quiet = fresh_gateway()
    report = sync_waf_ip_sets(gateway=quiet)

    assert quiet.calls == Counter({"get_ip_set": 2})
    assert [(s.wrote, s.status, s.to_add, s.to_remove) for s in report.sets] == [
        (False, "in_sync", [], []),
        (False, "in_sync", [], []),
    ]
    assert report.in_sync
    assert AuditEvent.objects.count() == audit_before


def test_first_sync_finds_the_sets_by_name_and_remembers_their_ids(gateway, waf):
    report = sync_waf_ip_sets(gateway=gateway)
    assert gateway.calls["list_ip_sets"] == 2
    assert state(4).ip_set_id == waf.ids[4] and state(6).ip_set_id == waf.ids[6]
    assert state(4).name == "gatehouse-office-v4" and state(6).name == "gatehouse-office-v6"
    assert [s.name for s in report.sets] == ["gatehouse-office-v4", "gatehouse-office-v6"]


def test_sets_are_found_beyond_the_first_page_of_the_listing(waf, gateway):
    for i in range(105):
        waf.client.create_ip_set(
            Name=f"other-{i:03}", Scope=WAF_SCOPE, IPAddressVersion="IPV4", Addresses=[]
        )
    # Ours were created first; move them to the end of the listing by re-creating them.
    for version in (4, 6):
        token = waf.client.get_ip_set(Name=waf.names[version], Scope=WAF_SCOPE, Id=waf.ids[version])
        waf.client.delete_ip_set(
            Name=waf.names[version],
            Scope=WAF_SCOPE,
            Id=waf.ids[version],
            LockToken=token["LockToken"],
        )
        created = waf.client.create_ip_set(
            Name=waf.names[version],
            Scope=WAF_SCOPE,
            IPAddressVersion=f"IPV{version}",
            Addresses=[],
        )
        waf.ids[version] = created["Summary"]["Id"]
    add(OFFICE_V4, gateway)
    assert waf.addresses(4) == {OFFICE_V4}
    assert gateway.calls["list_ip_sets"] == 2  # two pages


def test_a_remembered_id_that_went_stale_is_found_again(gateway, waf):
    add(OFFICE_V4, gateway)
    # A well-formed id (WAF refuses malformed ones as invalid, not as missing) of no set.
    stale = "00000000-0000-4000-8000-000000000000"
    IpSetSyncState.objects.filter(ip_version=4).update(ip_set_id=stale)
    report = sync_waf_ip_sets(gateway=fresh_gateway())
    assert report.in_sync
    assert state(4).ip_set_id == waf.ids[4]


def test_address_added_in_the_waf_console_is_adopted_not_removed(gateway, waf):
    add(OFFICE_V4, gateway)
    waf.edit(4, {OFFICE_V4, "81.2.80.0/24"})

    report = sync_waf_ip_sets(gateway=gateway)

    v4 = report.sets[0]
    assert v4.adopted == ["81.2.80.0/24"] and not v4.wrote
    adopted = AllowedNetwork.objects.get(cidr="81.2.80.0/24")
    assert (adopted.source, adopted.label, adopted.ip_version) == ("adopted", "Adopted from WAF", 4)
    event = AuditEvent.objects.get(action="network.adopt")
    assert (event.subject, event.actor_name) == ("81.2.80.0/24", "system")
    assert waf.addresses(4) == {OFFICE_V4, "81.2.80.0/24"}
    assert state(4).drift == {"added_outside": ["81.2.80.0/24"]}
    assert sorted(state(4).last_applied) == [OFFICE_V4, "81.2.80.0/24"]
    # Adopted entries are ordinary networks from then on: removing one removes it from WAF.
    from accesscontrol.services import revoke_network

    revoke_network(requester=SYSTEM, network=adopted, gateway=gateway)
    assert waf.addresses(4) == {OFFICE_V4}


def test_address_removed_in_the_waf_console_is_restored_and_reported(gateway, waf):
    add(OFFICE_V4, gateway)
    add(HOME_V4, gateway)
    waf.edit(4, {HOME_V4})

    report = sync_waf_ip_sets(gateway=gateway)

    assert report.sets[0].wrote and report.sets[0].to_add == [OFFICE_V4]
    assert report.sets[0].removed_outside == [OFFICE_V4]
    assert waf.addresses(4) == {OFFICE_V4, HOME_V4}
    assert state(4).drift == {"removed_outside": [OFFICE_V4]}
    event = AuditEvent.objects.filter(action="sync.apply").first()  # newest first
    assert event.after == {
        "added_count": 1,
        "removed_count": 0,
        "added": [OFFICE_V4],
        "removed": [],
        "removed_outside": [OFFICE_V4],
    }


def test_sync_apply_event_lists_at_most_100_addresses_with_full_counts(gateway, waf):
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"81.3.{i}.0/24", ip_version=4, label="bulk") for i in range(150)
    )
    sync_waf_ip_sets(gateway=gateway)
    event = AuditEvent.objects.get(action="sync.apply")
    assert event.after["added_count"] == 150 and len(event.after["added"]) == 100
    assert len(waf.addresses(4)) == 150


def test_pre_existing_waf_entries_are_adopted_on_the_first_sync(waf, gateway):
    waf.edit(6, {"2a02:8010:9999::/48"})
    report = sync_waf_ip_sets(gateway=gateway)
    assert report.sets[1].adopted == ["2a02:8010:9999::/48"]
    assert AllowedNetwork.objects.get(cidr="2a02:8010:9999::/48").source == "adopted"


def test_waf_spelling_of_ipv6_matches_ours_without_a_write(gateway, waf):
    add(OFFICE_V6, gateway)
    waf.edit(6, {"2A02:8010:1234:0:0:0:0:0/48"})
    report = sync_waf_ip_sets(gateway=fresh_gateway())
    assert report.sets[1].adopted == [] and not report.sets[1].wrote
    assert AllowedNetwork.objects.count() == 1


def test_expired_entries_leave_waf_and_are_audited_once(gateway, waf):
    add(OFFICE_V4, gateway)
    temporary = add(HOME_V4, gateway, expires_at=timezone.now() + timedelta(hours=1)).network
    assert waf.addresses(4) == {OFFICE_V4, HOME_V4}
    AllowedNetwork.objects.filter(pk=temporary.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    report = sync_waf_ip_sets(gateway=gateway)
    sync_waf_ip_sets(gateway=gateway)

    assert report.sets[0].to_remove == [HOME_V4]
    assert waf.addresses(4) == {OFFICE_V4}
    events = AuditEvent.objects.filter(action="network.expire")
    assert [(e.subject, e.actor_name) for e in events] == [(HOME_V4, "system")]
    temporary.refresh_from_db()
    assert temporary.status == "expired"  # kept in the database, listed as expired


def test_extending_an_expired_entry_restores_it_and_its_next_expiry_is_audited(gateway, waf):
    from accesscontrol.services import update_network

    add(OFFICE_V4, gateway)
    temporary = add(HOME_V4, gateway, expires_at=timezone.now() + timedelta(hours=1)).network
    AllowedNetwork.objects.filter(pk=temporary.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    sync_waf_ip_sets(gateway=gateway)
    change = update_network(
        requester=SYSTEM,
        network=temporary,
        changes={"expires_at": timezone.now() + timedelta(hours=1)},
        gateway=gateway,
    )
    assert change.sync.status == "applied"
    assert waf.addresses(4) == {OFFICE_V4, HOME_V4}
    AllowedNetwork.objects.filter(pk=temporary.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    sync_waf_ip_sets(gateway=gateway)
    assert AuditEvent.objects.filter(action="network.expire").count() == 2


def test_dry_run_reports_the_plan_and_changes_nothing(gateway, waf):
    add(OFFICE_V4, gateway)
    waf.edit(4, {"81.2.80.0/24"})
    IpSetSyncState.objects.filter(ip_version=4).update(status="pending")
    audit_before = AuditEvent.objects.count()
    dry = fresh_gateway()

    report = sync_waf_ip_sets(dry_run=True, gateway=dry)

    v4 = report.sets[0]
    assert report.dry_run
    assert (v4.to_add, v4.to_remove, v4.adopted, v4.wrote) == (
        [OFFICE_V4],
        [],
        ["81.2.80.0/24"],
        False,
    )
    assert v4.removed_outside == [OFFICE_V4]
    assert "update_ip_set" not in dry.calls
    assert waf.addresses(4) == {"81.2.80.0/24"}
    assert not AllowedNetwork.objects.filter(cidr="81.2.80.0/24").exists()
    assert AuditEvent.objects.count() == audit_before
    assert state(4).status == "pending"


def test_lock_conflict_rereads_adopts_the_concurrent_edit_and_reapplies(gateway, waf, monkeypatch):
    original = WAFV2Backend.update_ip_set
    concurrent = {"done": False}

    def update_after_a_concurrent_writer(self, name, scope, _id, description, addresses, token):
        if not concurrent["done"]:
            # Someone else writes between our read and our write: our token goes stale.
            concurrent["done"] = True
            current = self.get_ip_set(name, scope, _id)
            original(
                self,
                name,
                scope,
                _id,
                None,
                [*current.addresses, "81.2.90.0/24"],
                current.lock_token,
            )
        return original(self, name, scope, _id, description, addresses, token)

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", update_after_a_concurrent_writer)

    change = add(OFFICE_V4, gateway)

    assert change.sync.status == "applied"
    assert gateway.calls["get_ip_set"] == 2 and gateway.calls["update_ip_set"] == 2
    assert waf.addresses(4) == {OFFICE_V4, "81.2.90.0/24"}
    assert AllowedNetwork.objects.get(cidr="81.2.90.0/24").source == "adopted"
    assert state(4).status == "in_sync"


def test_lock_conflicts_beyond_the_retry_budget_leave_the_change_pending(gateway, waf, monkeypatch):
    original = WAFV2Backend.update_ip_set

    def always_beaten(self, name, scope, _id, description, addresses, token):
        current = self.get_ip_set(name, scope, _id)
        original(self, name, scope, _id, None, list(current.addresses), current.lock_token)
        return original(self, name, scope, _id, description, addresses, token)

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", always_beaten)
    delays = []
    patient = WafIpSetGateway.from_settings(sleep=delays.append, max_attempts=3)

    change = add(OFFICE_V4, patient)

    assert change.sync.status == "pending" and "changed while" in change.sync.reason
    assert patient.calls["update_ip_set"] == 3
    assert len(delays) == 2 and all(0 <= d <= patient.backoff_cap for d in delays)
    assert AllowedNetwork.objects.filter(cidr=OFFICE_V4).exists()
    assert state(4).status == "pending"


def unavailable(*args, **kwargs):
    raise JsonRESTError("WAFUnavailableEntityException", "WAF is having a bad day")


def test_waf_outage_keeps_the_change_and_a_later_sync_converges(gateway, waf, monkeypatch):
    add(OFFICE_V4, gateway)
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", unavailable)

    change = add(HOME_V4, gateway)

    assert change.sync.status == "pending"
    assert "gatehouse-office-v4" in change.sync.reason
    assert "bad day" not in change.sync.reason  # botocore text is logged, not shown
    assert AllowedNetwork.objects.filter(cidr=HOME_V4).exists()
    assert waf.addresses(4) == {OFFICE_V4}
    assert (state(4).status, state(4).last_error) == (
        "pending",
        "WAF refused update_ip_set on gatehouse-office-v4 (WAFUnavailableEntityException).",
    )
    add("81.2.71.0/24", gateway)  # still failing: no second sync.fail event
    assert AuditEvent.objects.filter(action="sync.fail").count() == 1

    monkeypatch.undo()
    report = sync_waf_ip_sets(gateway=fresh_gateway())

    assert report.in_sync
    assert waf.addresses(4) == {OFFICE_V4, HOME_V4, "81.2.71.0/24"}
    assert (state(4).status, state(4).last_error) == ("in_sync", "")
    assert AllowedNetwork.objects.filter(source="adopted").count() == 0


def test_waf_unreachable_on_read_is_pending(gateway, waf, monkeypatch):
    monkeypatch.setattr(WAFV2Backend, "get_ip_set", unavailable)
    change = add(OFFICE_V4, gateway)
    assert change.sync.status == "pending"
    assert state(4).status == "pending"


def test_missing_ip_set_fails_the_sync_with_a_clear_reason(aws, settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    gateway = fresh_gateway()
    change = add(OFFICE_V4, gateway)
    assert change.sync.status == "pending"
    assert "gatehouse-office-v4" in change.sync.reason
    assert "provision_infra" in change.sync.reason
    assert state(4).status == "failed"
    assert AllowedNetwork.objects.filter(cidr=OFFICE_V4).exists()


def test_access_denied_marks_the_set_failed(gateway, waf, monkeypatch):
    def denied(*args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not allowed")

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", denied)
    add(OFFICE_V4, gateway)
    assert state(4).status == "failed"
    assert "AccessDeniedException" in state(4).last_error


def test_write_keeps_the_sets_description(gateway, waf):
    add(OFFICE_V4, gateway)
    described = waf.client.get_ip_set(Name=waf.names[4], Scope=WAF_SCOPE, Id=waf.ids[4])
    assert described["IPSet"]["Description"] == "Gatehouse office allowlist"


def test_a_renamed_edge_syncs_its_own_sets(gateway, waf, settings):
    add(OFFICE_V4, gateway)
    settings.GATEHOUSE_EDGE_NAME = "other"
    report = sync_waf_ip_sets(gateway=fresh_gateway())
    assert report.sets[0].name == "other-office-v4"
    assert report.sets[0].status == "failed"  # "other" has no IP sets
    assert state(4).name == "other-office-v4"


def test_client_uses_the_waf_region_and_standard_retries_whatever_aws_region(monkeypatch, aws):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = wafv2_client()
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.retries["mode"] == "standard"


def test_client_honours_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert wafv2_client().meta.endpoint_url == "http://127.0.0.1:4566"


def test_gateway_builds_its_client_only_when_first_used(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    gateway = WafIpSetGateway.from_settings()
    assert gateway._client is None
    assert gateway.client.meta.endpoint_url == "http://127.0.0.1:9"


# -- adoption goes through the input rules (issue 12, items 2 and 3) ------------------------


def test_outside_additions_that_break_the_input_rules_are_refused_and_removed(gateway, waf):
    add(OFFICE_V4, gateway)
    hostile = ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8"]
    waf.edit(4, {OFFICE_V4, "81.2.80.0/24", *hostile})

    report = sync_waf_ip_sets(gateway=gateway)

    v4 = report.sets[0]
    assert v4.adopted == ["81.2.80.0/24"]
    assert sorted(v4.refused) == sorted(hostile)
    assert "overlaps" in v4.refused["128.0.0.0/1"]
    assert "private range" in v4.refused["10.0.0.0/8"]
    assert waf.addresses(4) == {OFFICE_V4, "81.2.80.0/24"}
    assert not AllowedNetwork.objects.filter(cidr__in=hostile).exists()
    events = AuditEvent.objects.filter(action="network.adopt_refused")
    assert sorted(e.subject for e in events) == sorted(hostile)
    assert all("removed from WAF" in e.reason for e in events)
    assert state(4).drift["refused_outside"] == dict(sorted(v4.refused.items()))
    assert set(state(4).drift["added_outside"]) == {"81.2.80.0/24", *hostile}
    adopted = AllowedNetwork.objects.get(cidr="81.2.80.0/24")
    assert (adopted.source, adopted.needs_review) == ("adopted", True)
    # Next time round nothing is left to refuse.
    assert sync_waf_ip_sets(gateway=gateway).sets[0].refused == {}
    assert events.count() == 3


def test_adoption_refuses_prefixes_wider_than_the_minimum_even_where_private_is_allowed(
    gateway, waf, settings
):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True  # as in the local stack
    waf.edit(4, {"10.0.0.0/8", "10.1.2.0/24"})
    v4 = sync_waf_ip_sets(gateway=gateway).sets[0]
    assert v4.adopted == ["10.1.2.0/24"]
    assert list(v4.refused) == ["10.0.0.0/8"] and "wider than /16" in v4.refused["10.0.0.0/8"]
    assert waf.addresses(4) == {"10.1.2.0/24"}


def test_dry_run_lists_refusals_without_recording_or_removing_them(gateway, waf):
    waf.edit(4, {"0.0.0.0/1"})
    report = sync_waf_ip_sets(dry_run=True, gateway=fresh_gateway())
    v4 = report.sets[0]
    assert (v4.adopted, list(v4.refused), v4.to_remove) == ([], ["0.0.0.0/1"], ["0.0.0.0/1"])
    assert waf.addresses(4) == {"0.0.0.0/1"}
    assert not AuditEvent.objects.filter(action="network.adopt_refused").exists()


def test_adoption_stops_at_the_10000_limit_and_refuses_the_rest(gateway, waf):
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"11.{i // 256}.{i % 256}.0/24", ip_version=4, label="bulk")
        for i in range(9_999)
    )
    waf.edit(4, {"81.2.80.0/24", "81.2.81.0/24"})

    v4 = sync_waf_ip_sets(gateway=gateway).sets[0]

    assert v4.adopted == ["81.2.80.0/24"]
    assert list(v4.refused) == ["81.2.81.0/24"] and "10,000" in v4.refused["81.2.81.0/24"]
    assert AllowedNetwork.objects.active().filter(ip_version=4).count() == 10_000
    assert len(waf.addresses(4)) == 10_000 and "81.2.81.0/24" not in waf.addresses(4)


def test_waf_limits_exceeded_is_reported_as_its_own_failure(gateway, waf, monkeypatch):
    def over_limit(*args, **kwargs):
        raise JsonRESTError("WAFLimitsExceededException", "too many addresses")

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", over_limit)

    change = add(OFFICE_V4, gateway)

    assert change.sync.status == "pending"
    assert "limit of 10,000" in change.sync.reason
    assert state(4).status == "failed"  # not transient: retrying the same write fails again
    assert "WAFLimitsExceededException" in state(4).last_error
    assert "too many addresses" not in state(4).last_error
