"""The management commands: thin wrappers, clear output, non-zero exit on failure."""

import getpass
import io
import socket
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from moto.core.exceptions import JsonRESTError
from moto.wafv2.models import WAFV2Backend

from accesscontrol.models import AllowedNetwork, AuditEvent

from .conftest import HOME_V4, OFFICE_V4, OFFICE_V6

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def outage(*args, **kwargs):
    raise JsonRESTError("WAFUnavailableEntityException", "down")


def test_allow_ip_adds_the_network_and_updates_waf(waf):
    output = run("allow_ip", "81.2.69.7", "--label", "Break glass")

    network = AllowedNetwork.objects.get()
    assert (network.cidr, network.source, network.created_by) == ("81.2.69.7/32", "cli", None)
    assert "Allowed 81.2.69.7/32 (Break glass)." in output
    assert "WAF updated." in output
    assert waf.addresses(4) == {"81.2.69.7/32"}
    # Attributed to the operating-system user and host that ran it, not to "system".
    event = AuditEvent.objects.get(action="network.allow")
    assert event.actor_name == f"cli:{getpass.getuser()}@{socket.gethostname()}"
    assert event.user_agent == "manage.py allow_ip"


def test_allow_ip_with_ttl_sets_an_expiry(waf):
    before = timezone.now()
    output = run("allow_ip", OFFICE_V4, "--label", "Visitor", "--ttl-hours", "2")
    network = AllowedNetwork.objects.get()
    assert before + timedelta(hours=2) <= network.expires_at <= timezone.now() + timedelta(hours=2)
    assert "Expires at" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["10.1.2.3/24", "--label", "x"], "10.1.2.0/24"),
        (["garbage", "--label", "x"], "not an IP address"),
        ([OFFICE_V4, "--label", "  "], "label"),
        ([OFFICE_V4, "--label", "x", "--ttl-hours", "0"], "--ttl-hours"),
    ],
)
def test_allow_ip_rejects_bad_input_with_a_clear_message(args, message, waf):
    with pytest.raises(CommandError, match=message):
        run("allow_ip", *args)
    assert not AllowedNetwork.objects.exists()


def test_allow_ip_reports_a_waf_failure_but_keeps_the_network(waf, monkeypatch):
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", outage)
    with pytest.raises(CommandError, match="saved, but WAF was not updated.*sync_waf"):
        run("allow_ip", OFFICE_V4, "--label", "Office")
    assert AllowedNetwork.objects.filter(cidr=OFFICE_V4).exists()


def test_allow_ip_reactivates_an_expired_network(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office", "--ttl-hours", "1")
    AllowedNetwork.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    run("sync_waf")
    assert waf.addresses(4) == set()

    output = run("allow_ip", OFFICE_V4, "--label", "Office again")

    network = AllowedNetwork.objects.get()
    assert (network.status, network.label, network.expires_at) == ("active", "Office again", None)
    assert "Reactivated 81.2.69.0/24" in output
    assert waf.addresses(4) == {OFFICE_V4}


def test_allow_ip_for_an_active_network_re_syncs_waf(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    waf.edit(4, set())  # someone emptied the set in the console
    output = run("allow_ip", OFFICE_V4, "--label", "Office")
    assert "already allowed" in output
    assert waf.addresses(4) == {OFFICE_V4}


def test_revoke_ip_refuses_to_empty_the_allowlist_without_the_flag(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    with pytest.raises(CommandError, match="empty"):
        run("revoke_ip", OFFICE_V4)
    assert waf.addresses(4) == {OFFICE_V4}

    output = run("revoke_ip", OFFICE_V4, "--allow-empty")

    assert "Removed 81.2.69.0/24 (Office)." in output
    assert not AllowedNetwork.objects.exists()
    assert waf.addresses(4) == set()


def test_revoke_ip_removes_one_network(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    run("allow_ip", OFFICE_V6, "--label", "Office v6")
    run("allow_ip", "2a02:8010:5678::/48", "--label", "Branch v6")
    run("revoke_ip", "2A02:8010:1234::/48")
    assert waf.addresses(6) == {"2a02:8010:5678::/48"}
    assert sorted(AllowedNetwork.objects.values_list("cidr", flat=True)) == [
        "2a02:8010:5678::/48",
        OFFICE_V4,
    ]


def test_revoke_ip_refuses_to_empty_one_ip_versions_set_without_the_flag(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    run("allow_ip", OFFICE_V6, "--label", "Office v6")
    with pytest.raises(CommandError, match="last active IPv6 network"):
        run("revoke_ip", OFFICE_V6)
    assert waf.addresses(6) == {OFFICE_V6}
    run("revoke_ip", OFFICE_V6, "--allow-empty")
    assert waf.addresses(6) == set()


@pytest.mark.parametrize(
    ("cidr", "message"), [(HOME_V4, "not in the allowlist"), ("81.2.69.1/24", "host bits")]
)
def test_revoke_ip_fails_clearly_for_unknown_or_bad_networks(cidr, message, waf):
    with pytest.raises(CommandError, match=message):
        run("revoke_ip", cidr)


def test_sync_waf_dry_run_prints_the_plan_and_writes_nothing(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    waf.edit(4, {"81.2.80.0/24"})

    output = run("sync_waf", "--dry-run", verbosity=2)

    assert "gatehouse-office-v4: pending, would add 1, would remove 0, would adopt 1" in output
    assert f"  + {OFFICE_V4}" in output
    assert "  adopted 81.2.80.0/24" in output
    assert waf.addresses(4) == {"81.2.80.0/24"}
    assert not AllowedNetwork.objects.filter(source="adopted").exists()


def test_sync_waf_converges_and_prints_a_summary(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    waf.edit(4, {"81.2.80.0/24"})

    output = run("sync_waf")

    assert "gatehouse-office-v4: in_sync, added 1, removed 0, adopted 1, wrote" in output
    assert "gatehouse-office-v6: in_sync, added 0, removed 0, adopted 0, no write needed" in output
    assert waf.addresses(4) == {OFFICE_V4, "81.2.80.0/24"}


def test_sync_waf_exits_non_zero_when_waf_fails(waf, monkeypatch):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    AllowedNetwork.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", outage)
    with pytest.raises(CommandError, match="WAF sync did not complete.*WAFUnavailableEntity"):
        run("sync_waf")


def test_sync_waf_exits_non_zero_when_the_sets_do_not_exist(aws):
    with pytest.raises(CommandError, match="does not exist"):
        run("sync_waf")


def test_list_networks_prints_a_table(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    run("allow_ip", HOME_V4, "--label", "Home", "--ttl-hours", "1")
    AllowedNetwork.objects.filter(cidr=HOME_V4).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    output = run("list_networks")
    lines = output.splitlines()

    assert lines[0].split() == ["CIDR", "STATUS", "SOURCE", "EXPIRES", "LABEL"]
    assert lines[1].split()[:3] == [HOME_V4, "expired", "cli"]
    assert lines[2].split() == [OFFICE_V4, "active", "cli", "-", "Office"]
    assert lines[-1] == "2 network(s)."
    assert HOME_V4 not in run("list_networks", "--status", "active")


def test_list_networks_with_an_empty_allowlist():
    assert run("list_networks") == "No networks.\n"


def test_sync_waf_prints_refused_outside_additions(waf):
    run("allow_ip", OFFICE_V4, "--label", "Office")
    waf.edit(4, {OFFICE_V4, "0.0.0.0/1"})
    output = run("sync_waf", verbosity=2)
    assert "refused and removed 1" in output
    assert "refused 0.0.0.0/1: Not adopted:" in output
    assert waf.addresses(4) == {OFFICE_V4}
