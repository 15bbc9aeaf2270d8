"""Bulk import and export (accesscontrol.bulk) and their commands: every line checked with
the single-add rules and reported by line number, all-or-nothing unless valid_only, one
WAF write per changed set, one audit event per network, an export that imports again."""

import io
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from moto.wafv2.models import WAFV2Backend

from accesscontrol import bulk
from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.services import allow_network

from .conftest import OFFICE_V4, OFFICE_V6

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def waf_writes(monkeypatch):
    """UpdateIPSet calls that reached moto, per IP set name (moto spied, our gateway not
    touched)."""
    writes: list[str] = []
    original = WAFV2Backend.update_ip_set

    def counting(self, name, *args, **kwargs):
        writes.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", counting)
    return writes


def addresses(count: int, *, start: int = 0) -> list[str]:
    """`count` distinct public /32s (81.2.0.0/16 and up: global unicast)."""
    return [
        f"81.{2 + (i // 65_000)}.{(i // 250) % 250}.{i % 250 + 1}/32"
        for i in range(start, start + count)
    ]


def refusals(report: bulk.ImportReport) -> dict[int, dict[str, list[str]]]:
    return {line.line: line.errors for line in report.refused}


CSV_WITH_PROBLEMS = "\n".join(
    [
        "cidr,label,note,expires_at",  # 1
        "81.2.69.0/24,Head office,,",  # 2
        "81.2.70.1/24,Host bits,,",  # 3
        "10.0.0.0/8,Private,,",  # 4
        "81.2.69.0/24,Again,,",  # 5: duplicate of line 2
        f"{OFFICE_V6},Already there,,",  # 6: in the database
        "81.2.71.0/24,Past,,2020-01-01T00:00:00Z",  # 7
        "81.2.72.0/24,Bad date,,tomorrow",  # 8
        "81.0.0.0/8,Too wide,,",  # 9: wider than /16 needs a superuser
        "81.2.73.0/24,,,",  # 10: no label
        "81.2.74.0/24,Fine,a note,",  # 11
    ]
)


def test_every_refused_line_is_reported_with_its_number_and_nothing_is_saved(
    as_editor, gateway, waf, waf_writes
):
    allow_network(requester=as_editor, cidr=OFFICE_V6, label="Office v6", gateway=gateway)
    allow_network(requester=as_editor, cidr="81.2.60.0/24", label="Office", gateway=gateway)
    networks_before = AllowedNetwork.objects.count()
    events_before = AuditEvent.objects.count()
    writes_before = len(waf_writes)

    report = bulk.import_networks(requester=as_editor, text=CSV_WITH_PROBLEMS, gateway=gateway)

    refused = refusals(report)
    assert sorted(refused) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "81.2.70.0/24" in refused[3]["cidr"][0]  # names the network to use instead
    assert "private" in refused[4]["cidr"][0]
    assert "line 2" in refused[5]["cidr"][0]
    assert "already on the allowlist" in refused[6]["cidr"][0]
    assert "future" in refused[7]["expires_at"][0]
    assert "not a date" in refused[8]["expires_at"][0]
    assert "superuser" in refused[9]["cidr"][0]
    assert "label" in refused[10]
    assert [line.line for line in report.valid] == [2, 11]
    assert not report.imported and report.sync is None
    assert AllowedNetwork.objects.count() == networks_before
    assert AuditEvent.objects.count() == events_before
    assert len(waf_writes) == writes_before


def test_valid_only_saves_the_valid_lines_with_one_event_each_and_one_write(
    as_editor, gateway, waf, waf_writes
):
    allow_network(requester=as_editor, cidr=OFFICE_V6, label="Office v6", gateway=gateway)
    waf_writes.clear()

    report = bulk.import_networks(
        requester=as_editor, text=CSV_WITH_PROBLEMS, valid_only=True, gateway=gateway
    )

    assert [line.line for line in report.created] == [2, 11]
    assert len(report.refused) == 8
    created = AllowedNetwork.objects.filter(cidr__in=["81.2.69.0/24", "81.2.74.0/24"])
    assert {(n.cidr, n.label, n.note, n.created_by) for n in created} == {
        ("81.2.69.0/24", "Head office", "", as_editor.user),
        ("81.2.74.0/24", "Fine", "a note", as_editor.user),
    }
    events = AuditEvent.objects.filter(action="network.allow", reason__startswith="Bulk import")
    assert sorted(e.subject for e in events) == ["81.2.69.0/24", "81.2.74.0/24"]
    assert {e.actor_name for e in events} == {as_editor.user.username}
    assert waf_writes == [waf.names[4]]  # one write, only the set that changed
    assert waf.addresses(4) == {"81.2.69.0/24", "81.2.74.0/24"}
    assert report.sync is not None and report.sync.status == "applied"


def test_plain_lines_need_one_label_and_keep_their_physical_line_numbers(as_editor, gateway):
    text = "# branch offices\n81.2.69.0/24\n\n81.2.70.5\nnot-an-ip\n"
    with pytest.raises(ValidationError) as missing:
        bulk.import_networks(requester=as_editor, text=text, dry_run=True)
    assert "label" in missing.value.message_dict

    report = bulk.import_networks(requester=as_editor, text=text, label="Branches", dry_run=True)

    assert [(line.line, line.cidr, line.label) for line in report.valid] == [
        (2, "81.2.69.0/24", "Branches"),
        (4, "81.2.70.5/32", "Branches"),  # a bare address becomes a /32
    ]
    assert list(refusals(report)) == [5] and "not an IP address" in refusals(report)[5]["cidr"][0]
    assert AllowedNetwork.objects.count() == 0  # a dry run saves nothing


def test_a_bad_header_is_refused_as_line_1(as_editor):
    with pytest.raises(ValidationError) as bad:
        bulk.import_networks(requester=as_editor, text="cidr,lable\n81.2.69.0/24,x\n")
    assert "Line 1" in bad.value.message_dict["text"][0]


def test_a_superuser_may_import_wide_networks(as_superuser, gateway, waf):
    report = bulk.import_networks(
        requester=as_superuser, text="81.0.0.0/8", label="Wide", gateway=gateway
    )
    assert [line.cidr for line in report.created] == ["81.0.0.0/8"]


def test_the_per_set_limit_counts_the_whole_import(as_editor, gateway, waf, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_ACTIVE_PER_VERSION", 3)
    allow_network(requester=as_editor, cidr=OFFICE_V4, label="Office", gateway=gateway)
    text = "\n".join(addresses(3))

    report = bulk.import_networks(requester=as_editor, text=text, label="Many", gateway=gateway)

    assert sorted(refusals(report)) == [3]  # 1 existing + 2 fit; the third is one too many
    assert "would exceed" in refusals(report)[3]["cidr"][0]
    assert not report.imported
    v6 = bulk.import_networks(
        requester=as_editor, text=OFFICE_V6, label="v6 has its own room", gateway=gateway
    )
    assert v6.imported


def test_ttl_hours_applies_to_lines_without_an_expiry(as_editor, gateway, waf):
    soon = timezone.now() + timedelta(hours=2)
    text = f"cidr,label,expires_at\n81.2.69.0/24,A,\n81.2.70.0/24,B,{soon.isoformat()}\n"
    default = timezone.now() + timedelta(hours=24)

    bulk.import_networks(
        requester=as_editor, text=text, default_expires_at=default, gateway=gateway
    )

    expiries = dict(AllowedNetwork.objects.values_list("cidr", "expires_at"))
    assert expiries["81.2.69.0/24"] == default
    assert abs(expiries["81.2.70.0/24"] - soon) < timedelta(seconds=1)


def test_a_thousand_line_import_is_one_waf_write_and_a_thousand_audit_events(
    as_editor, gateway, waf, waf_writes
):
    lines = addresses(1_000)
    text = "cidr,label\n" + "\n".join(f"{cidr},Branch {i}" for i, cidr in enumerate(lines))

    report = bulk.import_networks(requester=as_editor, text=text, gateway=gateway)

    assert len(report.created) == 1_000 and not report.refused
    assert waf_writes == [waf.names[4]]
    assert gateway.calls["update_ip_set"] == 1
    assert waf.addresses(4) == set(lines)
    assert AuditEvent.objects.filter(action="network.allow").count() == 1_000
    ids = {line.network_id for line in report.created}
    assert ids == set(AllowedNetwork.objects.values_list("pk", flat=True))


def test_an_import_of_both_versions_writes_each_set_once(as_editor, gateway, waf, waf_writes):
    text = f"{OFFICE_V4}\n{OFFICE_V6}\n81.2.70.0/24\n2a02:8010:5678::/48\n"
    bulk.import_networks(requester=as_editor, text=text, label="Both", gateway=gateway)
    assert sorted(waf_writes) == sorted([waf.names[4], waf.names[6]])


# -- export and the round trip --------------------------------------------------------------


def test_export_csv_imports_again_into_an_empty_database_unchanged(as_editor, gateway, waf):
    expiry = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    source = "\n".join(
        [
            "cidr,label,note,expires_at",
            '81.2.69.0/24,"Head office, London","He said ""hi""",',
            f"2a02:8010:1234::/48,=HYPERLINK(evil),-starts with a dash,{expiry.isoformat()}",
            "81.2.70.5,@home,,",
        ]
    )
    bulk.import_networks(requester=as_editor, text=source, gateway=gateway)
    fields = ("cidr", "ip_version", "label", "note", "expires_at")
    before = sorted(AllowedNetwork.objects.values_list(*fields))

    exported = run("export_networks", "--format", "csv")[0]
    assert "'=HYPERLINK(evil)" in exported  # a spreadsheet would run it: quoted
    AllowedNetwork.objects.all().delete()
    report = bulk.import_networks(requester=as_editor, text=exported, gateway=gateway)

    assert not report.refused
    assert sorted(AllowedNetwork.objects.values_list(*fields)) == before


def test_export_json_lists_every_field_and_expired_ones_only_when_asked(as_editor, gateway, waf):
    allow_network(requester=as_editor, cidr=OFFICE_V4, label="Office", gateway=gateway)
    expired = allow_network(requester=as_editor, cidr=OFFICE_V6, label="Old", gateway=gateway)
    AllowedNetwork.objects.filter(pk=expired.network.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )

    active = json.loads(run("export_networks", "--format", "json")[0])
    everything = json.loads(run("export_networks", "--format", "json", "--include-expired")[0])

    assert [n["cidr"] for n in active] == [OFFICE_V4]
    assert active[0]["label"] == "Office" and active[0]["status"] == "active"
    assert active[0]["created_by"] == as_editor.user.username
    assert sorted(n["status"] for n in everything) == ["active", "expired"]


# -- the import command ----------------------------------------------------------------------


def test_import_command_exits_non_zero_and_saves_nothing_when_a_line_is_refused(tmp_path, waf):
    path = tmp_path / "nets.csv"
    path.write_text("cidr,label\n81.2.69.0/24,Office\n81.2.70.1/24,Bad\n")
    with pytest.raises(CommandError) as failed:
        run("import_networks", str(path))
    assert "1 of 2 lines refused; nothing imported" in str(failed.value)
    assert AllowedNetwork.objects.count() == 0


def test_import_command_prints_each_problem_with_its_line(tmp_path, waf, capsys):
    path = tmp_path / "nets.txt"
    path.write_text("81.2.69.0/24\n10.0.0.1\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_networks", str(path), "--label", "X", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith("line 2: cidr: ")


def test_import_command_valid_only_saves_the_valid_ones_but_still_fails(tmp_path, waf):
    path = tmp_path / "nets.txt"
    path.write_text("81.2.69.0/24\n10.0.0.1\n")
    with pytest.raises(CommandError) as failed:
        run("import_networks", str(path), "--label", "X", "--valid-only")
    assert "1 imported anyway" in str(failed.value)
    network = AllowedNetwork.objects.get()
    assert (network.cidr, network.source) == ("81.2.69.0/24", "cli")
    assert waf.addresses(4) == {"81.2.69.0/24"}
    event = AuditEvent.objects.get(action="network.allow")
    assert event.actor_name.startswith("cli:")


def test_import_command_reads_standard_input_and_dry_run_saves_nothing(waf, monkeypatch):
    out, _ = run(
        "import_networks",
        "-",
        "--label",
        "Stdin",
        "--dry-run",
        stdin="81.2.69.0/24\n81.2.70.0/24\n",
        monkeypatch=monkeypatch,
    )
    assert "Dry run: 2 of 2 lines valid; nothing saved." in out
    assert AllowedNetwork.objects.count() == 0

    out, _ = run(
        "import_networks",
        "-",
        "--label",
        "Stdin",
        stdin="81.2.69.0/24\n81.2.70.0/24\n",
        monkeypatch=monkeypatch,
    )
    assert "Imported 2 networks." in out and "WAF updated." in out
    assert waf.addresses(4) == {"81.2.69.0/24", "81.2.70.0/24"}


def test_import_command_refuses_an_unreadable_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_networks", str(tmp_path / "missing.csv"))
