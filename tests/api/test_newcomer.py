"""Surprises from a newcomer's trial (issue 14), API side: an expired entry that WAF still
holds reads "pending", searching an address finds the networks that contain it, and the
sync preview names drift."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accesscontrol.models import AllowedNetwork, AuditEvent
from tests.api.test_networks import BRANCH, OFFICE, add, patch, post

pytestmark = pytest.mark.django_db


def test_an_expired_entry_not_yet_removed_from_waf_reads_pending(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    temporary = add(editor_client, BRANCH, label="Contractor")
    patch(
        editor_client,
        f"/api/networks/{temporary['id']}",
        {"expires_at": (timezone.now() + timedelta(hours=1)).isoformat()},
    )
    assert post(editor_client, "/api/sync", {}).status_code == 200  # both sets synced once
    assert editor_client.get("/api/sync").json()["in_sync"] is True

    # The hour passes; the scheduled sync has not run yet, so WAF still lets it in.
    AllowedNetwork.objects.filter(pk=temporary["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    body = editor_client.get("/api/sync").json()
    assert body["in_sync"] is False
    v4 = next(s for s in body["sets"] if s["ip_version"] == 4)
    assert v4["status"] == "pending"
    assert "1 expired or removed entry still in WAF" in v4["pending_reason"]
    assert next(s for s in body["sets"] if s["ip_version"] == 6)["status"] == "in_sync"

    assert post(editor_client, "/api/sync", {}).status_code == 200
    assert editor_client.get("/api/sync").json()["in_sync"] is True


def test_searching_an_address_finds_the_networks_that_contain_it(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")  # 81.2.69.0/24
    add(editor_client, "81.2.0.0/16", label="Provider block")
    add(editor_client, BRANCH, label="Branch")
    found = editor_client.get("/api/networks?search=81.2.69.60").json()["results"]
    assert sorted(n["cidr"] for n in found) == ["81.2.0.0/16", OFFICE]
    # A network finds itself and its supernets; text search still works.
    found = editor_client.get("/api/networks?search=81.2.69.0/25").json()["results"]
    assert sorted(n["cidr"] for n in found) == ["81.2.0.0/16", OFFICE]
    assert [
        n["label"] for n in editor_client.get("/api/networks?search=bran").json()["results"]
    ] == ["Branch"]


def test_sync_preview_lists_addresses_removed_in_waf_as_drift(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    add(editor_client, BRANCH, label="Branch")
    waf.edit(4, {OFFICE})  # someone edits the set in the WAF console
    plan = post(editor_client, "/api/sync", {"dry_run": True}).json()
    v4 = next(s for s in plan["sets"] if s["ip_version"] == 4)
    assert v4["removed_outside"] == [BRANCH]
    assert v4["to_add"] == [BRANCH]


def test_audit_filters_by_date_and_exports_csv(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    old = AuditEvent.objects.get(action="network.allow")
    AuditEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )  # the test's own back-dating: the app never updates an event
    add(editor_client, BRANCH, label="=cmd|' /C calc'!A0")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = editor_client.get("/api/audit", {"action": "network.allow", "since": since}).json()
    assert [e["subject"] for e in recent["results"]] == [BRANCH]
    until = editor_client.get("/api/audit", {"action": "network.allow", "until": since}).json()
    assert [e["subject"] for e in until["results"]] == [OFFICE]
    bad = editor_client.get("/api/audit", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()["error"]["fields"]

    response = editor_client.get("/api/audit/export", {"action": "network.allow"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["time_utc", "actor", "action", "subject"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("editor", "network.allow", BRANCH),
        ("editor", "network.allow", OFFICE),
    ]


def test_audit_export_needs_a_role(make_client):
    assert make_client("anonymous").get("/api/audit/export").status_code in (401, 403)
