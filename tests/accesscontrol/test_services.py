"""Allow, update, revoke: audit in the same transaction, guards, conflicts, WAF applied."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accesscontrol import selectors
from accesscontrol.exceptions import EmptyAllowlist, NetworkConflict, SelfLockout
from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.services import (
    Requester,
    allow_network,
    expiry_after_hours,
    record_audit_event,
    revoke_network,
    update_network,
)
from accesscontrol.validation import MAX_TTL_HOURS

from .conftest import HOME_V4, OFFICE_V4, OFFICE_V6

pytestmark = pytest.mark.django_db


def add(requester, cidr, gateway, **kwargs):
    kwargs.setdefault("label", f"net {cidr}")
    return allow_network(requester=requester, cidr=cidr, gateway=gateway, **kwargs)


def test_allowing_a_network_saves_audits_and_applies_it_to_waf(as_editor, gateway, waf):
    change = add(as_editor, " 81.2.69.0/24 ", gateway, label=" Head office ", note="3rd floor")

    network = AllowedNetwork.objects.get()
    assert (network.cidr, network.ip_version, network.label) == (OFFICE_V4, 4, "Head office")
    assert (network.source, network.created_by, network.status) == (
        "console",
        as_editor.user,
        "active",
    )
    assert change.sync.status == "applied" and change.covered_by == []
    assert waf.addresses(4) == {OFFICE_V4}
    event = AuditEvent.objects.get(action="network.allow")
    assert (event.actor, event.actor_name, event.subject) == (as_editor.user, "erin", OFFICE_V4)
    assert (event.request_ip, event.user_agent, event.before) == ("81.2.69.10", "pytest", None)
    assert event.after["label"] == "Head office" and event.after["note"] == "3rd floor"
    sync_event = AuditEvent.objects.get(action="sync.apply", subject=waf.names[4])
    # The sync the change triggered is audited as the change's author, from the same IP.
    assert (sync_event.actor, sync_event.request_ip) == (as_editor.user, "81.2.69.10")


def test_bare_address_is_stored_as_a_single_host_network(as_editor, gateway, waf):
    change = add(as_editor, "81.2.70.1", gateway)
    assert change.network.cidr == HOME_V4
    assert waf.addresses(4) == {HOME_V4}


def test_ipv6_network_is_normalised_and_goes_to_the_v6_set(as_editor, gateway, waf):
    change = add(as_editor, "2A02:8010:1234:0:0::/48", gateway)
    assert (change.network.cidr, change.network.ip_version) == (OFFICE_V6, 6)
    assert waf.addresses(6) == {OFFICE_V6}
    assert waf.addresses(4) == set()


def test_exact_duplicate_is_a_conflict_naming_the_existing_entry(as_editor, gateway, waf):
    first = add(as_editor, OFFICE_V4, gateway, label="Head office").network
    with pytest.raises(NetworkConflict) as caught:
        add(as_editor, "81.2.69.0/255.255.255.0", gateway, label="Again")
    assert caught.value.existing.pk == first.pk
    assert "81.2.69.0/24" in str(caught.value) and "Head office" in str(caught.value)
    assert AllowedNetwork.objects.count() == 1
    assert AuditEvent.objects.filter(action="network.allow").count() == 1


def test_network_covered_by_a_wider_one_is_allowed_and_reported(as_editor, gateway, waf):
    wide = add(as_editor, "81.2.0.0/16", gateway).network
    change = add(as_editor, "81.2.69.0/24", gateway)
    assert [n.pk for n in change.covered_by] == [wide.pk]
    assert "81.2.0.0/16" in AuditEvent.objects.get(subject=OFFICE_V4).reason
    assert waf.addresses(4) == {"81.2.0.0/16", OFFICE_V4}


def test_expired_wider_network_does_not_count_as_covering(as_editor, gateway, waf):
    wide = add(as_editor, "81.2.0.0/16", gateway).network
    AllowedNetwork.objects.filter(pk=wide.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    assert add(as_editor, OFFICE_V4, gateway).covered_by == []


def test_editor_may_not_add_a_network_wider_than_the_minimum(as_editor, as_superuser, gateway, waf):
    with pytest.raises(ValidationError) as caught:
        add(as_editor, "81.0.0.0/12", gateway)
    assert "superuser" in caught.value.message_dict["cidr"][0]
    assert add(as_superuser, "81.0.0.0/12", gateway).sync.status == "applied"


def test_more_than_10000_active_networks_of_one_version_are_refused(as_editor, gateway, waf):
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"11.{i // 256}.{i % 256}.0/24", ip_version=4, label="bulk")
        for i in range(10_000)
    )
    with pytest.raises(ValidationError) as caught:
        add(as_editor, OFFICE_V4, gateway)
    assert "10,000" in caught.value.message_dict["cidr"][0]
    # The other IP version has its own limit; expired entries do not count.
    add(as_editor, OFFICE_V6, gateway)
    AllowedNetwork.objects.filter(cidr="11.0.0.0/24").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    add(as_editor, OFFICE_V4, gateway)


def test_change_and_audit_event_commit_or_fail_together(as_editor, gateway, waf, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(AuditEvent, "save", broken_save)
    with pytest.raises(RuntimeError):
        add(as_editor, OFFICE_V4, gateway)
    assert not AllowedNetwork.objects.exists()
    assert waf.addresses(4) == set()


def test_update_changes_label_note_and_expiry_with_before_and_after(as_editor, gateway, waf):
    network = add(as_editor, OFFICE_V4, gateway, label="Old").network
    add(as_editor, HOME_V4, gateway)  # IPv4 keeps a permanent network after the expiry change
    expiry = timezone.now() + timedelta(hours=2)
    change = update_network(
        requester=as_editor,
        network=network,
        changes={"label": "  New ", "note": "moved", "expires_at": expiry},
        confirm=True,
        gateway=gateway,
    )
    network.refresh_from_db()
    assert (network.label, network.note, network.expires_at) == ("New", "moved", expiry)
    assert change.sync.status == "applied"
    event = AuditEvent.objects.get(action="network.update")
    assert event.before["label"] == "Old" and event.after["label"] == "New"
    assert event.before["expires_at"] is None and event.after["expires_at"] == expiry.isoformat()
    update_network(
        requester=as_editor, network=network, changes={"expires_at": None}, gateway=gateway
    )
    network.refresh_from_db()
    assert network.expires_at is None


def test_update_refuses_fields_that_cannot_change(as_editor, gateway, waf):
    network = add(as_editor, OFFICE_V4, gateway).network
    with pytest.raises(ValidationError) as caught:
        update_network(
            requester=as_editor, network=network, changes={"cidr": "81.2.70.0/24", "label": ""}
        )
    assert set(caught.value.message_dict) == {"cidr", "label"}


def test_removing_own_only_covering_network_needs_confirmation(as_editor, gateway, waf):
    own = add(as_editor, OFFICE_V4, gateway).network
    add(as_editor, HOME_V4, gateway)  # does not cover the editor's 81.2.69.10
    with pytest.raises(SelfLockout) as caught:
        revoke_network(requester=as_editor, network=own, gateway=gateway)
    assert caught.value.viewer_ip == "81.2.69.10"
    assert [n.pk for n in caught.value.covering] == [own.pk]
    assert AllowedNetwork.objects.filter(pk=own.pk).exists()

    outcome = revoke_network(requester=as_editor, network=own, confirm=True, gateway=gateway)
    assert outcome.status == "applied"
    assert not AllowedNetwork.objects.filter(pk=own.pk).exists()
    assert waf.addresses(4) == {HOME_V4}
    event = AuditEvent.objects.get(action="network.revoke")
    assert event.before["cidr"] == OFFICE_V4 and event.after is None


def test_removing_own_network_is_fine_when_another_still_covers_you(as_editor, gateway, waf):
    own = add(as_editor, OFFICE_V4, gateway).network
    add(as_editor, "81.2.0.0/16", gateway)  # also covers the editor's 81.2.69.10
    assert revoke_network(requester=as_editor, network=own, gateway=gateway).status == "applied"


def test_removing_someone_elses_network_needs_no_confirmation(as_editor, gateway, waf):
    add(as_editor, OFFICE_V4, gateway)
    other = add(as_editor, HOME_V4, gateway).network
    revoke_network(requester=as_editor, network=other, gateway=gateway)
    assert waf.addresses(4) == {OFFICE_V4}


def test_setting_an_expiry_on_own_only_permanent_network_needs_confirmation(
    as_editor, gateway, waf
):
    own = add(as_editor, OFFICE_V4, gateway).network
    add(as_editor, HOME_V4, gateway)
    soon = timezone.now() + timedelta(hours=1)
    with pytest.raises(SelfLockout):
        update_network(
            requester=as_editor, network=own, changes={"expires_at": soon}, gateway=gateway
        )
    own.refresh_from_db()
    assert own.expires_at is None
    update_network(
        requester=as_editor,
        network=own,
        changes={"expires_at": soon},
        confirm=True,
        gateway=gateway,
    )
    # With a permanent network also covering the editor, no confirmation is needed.
    add(as_editor, "81.2.0.0/16", gateway)
    update_network(
        requester=as_editor,
        network=own,
        changes={"expires_at": soon + timedelta(hours=1)},
        gateway=gateway,
    )


def test_removing_the_last_active_network_is_refused(as_editor, gateway, waf):
    only = add(as_editor, HOME_V4, gateway).network
    with pytest.raises(EmptyAllowlist):
        revoke_network(requester=as_editor, network=only, confirm=True, gateway=gateway)
    assert waf.addresses(4) == {HOME_V4}

    outcome = revoke_network(
        requester=as_editor, network=only, confirm=True, allow_empty=True, gateway=gateway
    )
    assert outcome.status == "applied"
    assert waf.addresses(4) == set()


def test_removing_an_expired_network_never_counts_as_emptying(as_editor, gateway, waf):
    keep = add(as_editor, HOME_V4, gateway).network
    old = add(as_editor, OFFICE_V4, gateway).network
    AllowedNetwork.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    AllowedNetwork.objects.filter(pk=keep.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    # Nothing is active; removing an already expired entry changes nothing in WAF terms.
    revoke_network(requester=as_editor, network=old, gateway=gateway)
    assert not AllowedNetwork.objects.filter(pk=old.pk).exists()


def test_requester_without_an_address_removes_without_the_self_lockout_guard(
    as_superuser, gateway, waf
):
    # A command-line requester has no address to lock out: no confirmation is asked.
    office = add(as_superuser, OFFICE_V4, gateway).network
    add(as_superuser, HOME_V4, gateway)

    outcome = revoke_network(requester=as_superuser, network=office, gateway=gateway)

    assert outcome.status == "applied"
    assert not AllowedNetwork.objects.filter(pk=office.pk).exists()
    assert AllowedNetwork.objects.get().cidr == HOME_V4
    assert waf.addresses(4) == {HOME_V4}
    event = AuditEvent.objects.get(action="network.revoke")
    assert (event.actor, event.subject, event.request_ip) == (as_superuser.user, OFFICE_V4, None)
    assert event.before["cidr"] == OFFICE_V4 and event.after is None


def test_record_audit_event_for_auth_events_without_a_user():
    event = record_audit_event(
        requester=Requester(user=None, ip="not-an-ip", user_agent="u" * 600),
        action="auth.login_failed",
        subject="mallory",
        reason="bad password",
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_name, event.request_ip) == (None, "system", None)
    assert len(event.user_agent) == 512


def test_audit_events_are_append_only():
    event = record_audit_event(requester=None, action="auth.logout", subject="erin")
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get().reason == ""


def test_viewer_and_editor_groups_have_their_permissions():
    viewer = set(Group.objects.get(name="viewer").permissions.values_list("codename", flat=True))
    editor = set(Group.objects.get(name="editor").permissions.values_list("codename", flat=True))
    views = {"view_allowednetwork", "view_auditevent", "view_ipsetsyncstate"}
    assert viewer == views
    assert editor == views | {
        "add_allowednetwork",
        "change_allowednetwork",
        "delete_allowednetwork",
        "run_sync",
    }


def test_editor_group_member_has_the_run_sync_permission(editor):
    editor.groups.add(Group.objects.get(name="editor"))
    assert editor.has_perm("accesscontrol.run_sync")
    assert editor.has_perm("accesscontrol.add_allowednetwork")
    assert not editor.has_perm("accesscontrol.add_auditevent")


def test_selectors_list_search_and_cover(as_editor, gateway, waf):
    add(as_editor, OFFICE_V4, gateway, label="Head office")
    expired = add(as_editor, HOME_V4, gateway, label="Home").network
    AllowedNetwork.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert [n.cidr for n in selectors.network_list()] == [HOME_V4, OFFICE_V4]
    assert [n.cidr for n in selectors.network_list(status="active")] == [OFFICE_V4]
    assert [n.cidr for n in selectors.network_list(status="expired")] == [HOME_V4]
    assert [n.cidr for n in selectors.network_list(search="head")] == [OFFICE_V4]
    assert [n.cidr for n in selectors.networks_covering(ip="81.2.69.200")] == [OFFICE_V4]
    assert selectors.networks_covering(ip="81.2.70.1") == []  # expired
    assert selectors.networks_covering(ip="garbage") == []
    assert [e.action for e in selectors.audit_events(actor="erin", action="network.allow")] == [
        "network.allow",
        "network.allow",
    ]
    assert [s.ip_version for s in selectors.sync_states()] == [4, 6]


@pytest.mark.django_db(transaction=True)
def test_change_inside_a_callers_transaction_syncs_when_it_commits(as_editor, gateway, waf):
    with transaction.atomic():
        change = add(as_editor, OFFICE_V4, gateway)
        assert change.sync.status == "pending"
        assert "commits" in change.sync.reason
        assert waf.addresses(4) == set()
    assert waf.addresses(4) == {OFFICE_V4}


@pytest.mark.django_db(transaction=True)
def test_change_outside_any_transaction_reports_applied(as_editor, gateway, waf):
    assert add(as_editor, OFFICE_V4, gateway).sync.status == "applied"
    assert waf.addresses(4) == {OFFICE_V4}


@pytest.mark.django_db(transaction=True)
def test_rolled_back_callers_transaction_never_reaches_waf(as_editor, gateway, waf):
    with pytest.raises(RuntimeError), transaction.atomic():
        add(as_editor, OFFICE_V4, gateway)
        raise RuntimeError("caller fails after the change")
    assert not AllowedNetwork.objects.exists()
    assert waf.addresses(4) == set()


# -- the invariants on every path (issue 12, item 1) -----------------------------------------


def test_expiry_on_the_last_permanent_network_is_refused_unless_allow_empty(
    as_editor, gateway, waf
):
    only = add(as_editor, HOME_V4, gateway).network
    soon = timezone.now() + timedelta(seconds=5)
    with pytest.raises(EmptyAllowlist) as caught:
        update_network(
            requester=as_editor,
            network=only,
            changes={"expires_at": soon},
            confirm=True,
            gateway=gateway,
        )
    assert caught.value.rule == "last_permanent"
    only.refresh_from_db()
    assert only.expires_at is None

    # The command line's door: the same service with allow_empty.
    update_network(
        requester=as_editor,
        network=only,
        changes={"expires_at": soon},
        confirm=True,
        allow_empty=True,
        gateway=gateway,
    )
    only.refresh_from_db()
    assert only.expires_at == soon


def test_removing_the_last_network_of_a_version_is_refused_while_the_other_remains(
    as_editor, gateway, waf
):
    v4 = add(as_editor, HOME_V4, gateway).network
    v6 = add(as_editor, OFFICE_V6, gateway).network
    for network in (v4, v6):
        with pytest.raises(EmptyAllowlist) as caught:
            revoke_network(requester=as_editor, network=network, confirm=True, gateway=gateway)
        assert caught.value.rule == "last_of_version"
    assert waf.addresses(4) == {HOME_V4} and waf.addresses(6) == {OFFICE_V6}


def test_no_guard_for_changes_that_keep_or_extend_access(as_editor, gateway, waf):
    only = add(as_editor, HOME_V4, gateway).network
    update_network(requester=as_editor, network=only, changes={"label": "renamed"}, gateway=gateway)
    update_network(requester=as_editor, network=only, changes={"expires_at": None}, gateway=gateway)
    only.refresh_from_db()
    assert (only.label, only.expires_at) == ("renamed", None)


# -- the sync-state rows (migration 0005) and TTL -------------------------------------------


def test_the_migration_makes_both_sync_state_rows_named_after_the_edge(settings):
    from importlib import import_module

    from django.apps import apps

    from accesscontrol.models import IpSetSyncState

    migration = import_module("accesscontrol.migrations.0005_sync_state_rows")
    IpSetSyncState.objects.all().delete()
    migration.create_rows(apps, None)
    migration.create_rows(apps, None)  # idempotent
    assert list(IpSetSyncState.objects.values_list("ip_version", "name")) == [
        (4, f"{settings.GATEHOUSE_EDGE_NAME}-office-v4"),
        (6, f"{settings.GATEHOUSE_EDGE_NAME}-office-v6"),
    ]


def test_without_sync_state_rows_selectors_read_and_a_change_recreates_them(
    as_editor, gateway, waf
):
    # A transactional test's flush empties the table; reads must not write, writes cope.
    from accesscontrol.models import IpSetSyncState

    IpSetSyncState.objects.all().delete()
    states = selectors.sync_states()
    assert [(s.ip_version, s.pk is None, s.status) for s in states] == [
        (4, True, "pending"),
        (6, True, "pending"),
    ]
    assert not IpSetSyncState.objects.exists()
    assert add(as_editor, OFFICE_V4, gateway).sync.status == "applied"
    assert sorted(IpSetSyncState.objects.values_list("ip_version", "status")) == [
        (4, "in_sync"),
        (6, "pending"),
    ]


@pytest.mark.parametrize("hours", [0, -1, MAX_TTL_HOURS + 1, True, "8", None])
def test_ttl_outside_one_hour_to_the_maximum_is_refused(hours):
    with pytest.raises(ValidationError) as caught:
        expiry_after_hours(hours)
    assert list(caught.value.message_dict) == ["ttl_hours"]


def test_ttl_becomes_an_expiry_that_many_hours_from_now():
    before = timezone.now()
    expires = expiry_after_hours(MAX_TTL_HOURS)
    assert before + timedelta(hours=MAX_TTL_HOURS) <= expires
    assert expires <= timezone.now() + timedelta(hours=MAX_TTL_HOURS)
