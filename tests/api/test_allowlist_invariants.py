"""The allowlist's invariants over HTTP (issue 12, items 1 and 3): an editor cannot empty
the allowlist, or one IP version's WAF set, by removal or by expiry; a reactivation cannot
take a set past WAF's 10,000 limit; adopted networks can be marked reviewed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.services import sync_waf_ip_sets
from tests.api.test_networks import BRANCH, OFFICE, V6, add, patch

pytestmark = pytest.mark.django_db


def soon(seconds: int = 5) -> str:
    return (timezone.now() + timedelta(seconds=seconds)).isoformat()


def test_an_editor_cannot_empty_the_allowlist_by_expiry(editor_client, waf):
    office = add(editor_client, OFFICE)
    branch = add(editor_client, BRANCH)
    assert editor_client.delete(f"/api/networks/{branch['id']}").status_code == 204
    last = editor_client.delete(f"/api/networks/{office['id']}?confirm=true")
    assert last.json()["error"]["code"] == "empty_allowlist"

    # The same end by another road: an expiry a few seconds ahead, confirmed.
    response = patch(
        editor_client, f"/api/networks/{office['id']}?confirm=true", {"expires_at": soon()}
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["rule"]) == ("empty_allowlist", "last_permanent")
    assert OFFICE in error["message"] and "expir" in error["message"]
    assert AllowedNetwork.objects.get(pk=office["id"]).expires_at is None
    sync_waf_ip_sets()
    assert waf.addresses(4) == {OFFICE}


def test_deleting_the_last_ipv4_network_while_ipv6_remains_is_refused(editor_client, waf):
    office = add(editor_client, OFFICE)
    add(editor_client, V6, label="v6 office")

    response = editor_client.delete(f"/api/networks/{office['id']}?confirm=true")

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["rule"]) == ("empty_allowlist", "last_of_version")
    assert "IPv4" in error["message"]
    assert AllowedNetwork.objects.filter(pk=office["id"]).exists()
    assert waf.addresses(4) == {OFFICE}


def test_an_expiry_on_the_last_permanent_ipv4_network_is_refused(editor_client, waf):
    office = add(editor_client, OFFICE)
    add(editor_client, V6, label="v6 office")
    add(editor_client, BRANCH, label="temporary", ttl_hours=2)  # temporary: not enough

    response = patch(editor_client, f"/api/networks/{office['id']}?confirm=true", {"ttl_hours": 1})

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["rule"]) == ("empty_allowlist", "last_permanent_of_version")
    assert AllowedNetwork.objects.get(pk=office["id"]).expires_at is None
    assert not AuditEvent.objects.filter(action="network.update").exists()


def test_temporary_networks_can_still_be_shortened_extended_and_removed(editor_client, waf):
    add(editor_client, OFFICE)
    temporary = add(editor_client, BRANCH, label="visitor", ttl_hours=8)
    url = f"/api/networks/{temporary['id']}"
    assert patch(editor_client, url, {"ttl_hours": 1}).status_code == 200
    assert patch(editor_client, url, {"ttl_hours": 24}).status_code == 200
    assert patch(editor_client, url, {"expires_at": None}).status_code == 200
    assert editor_client.delete(url).status_code == 204
    assert waf.addresses(4) == {OFFICE}


def test_reactivating_past_the_10000_limit_is_400_naming_expires_at(editor_client, waf):
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"11.{i // 256}.{i % 256}.0/24", ip_version=4, label="bulk")
        for i in range(10_000)
    )
    expired = AllowedNetwork.objects.create(
        cidr=BRANCH, ip_version=4, label="old", expires_at=timezone.now() - timedelta(hours=1)
    )

    response = patch(editor_client, f"/api/networks/{expired.pk}", {"expires_at": None})

    assert response.status_code == 400
    error = response.json()["error"]
    assert "10,000" in error["fields"]["expires_at"][0]
    expired.refresh_from_db()
    assert expired.status == "expired"
    # Label edits of an expired entry are not additions.
    assert patch(editor_client, f"/api/networks/{expired.pk}", {"label": "x"}).status_code == 200


def test_adopted_networks_are_listed_for_review_and_can_be_marked_reviewed(editor_client, waf):
    add(editor_client, OFFICE)
    adopted = AllowedNetwork.objects.create(
        cidr=BRANCH, ip_version=4, label="Adopted from WAF", source="adopted", needs_review=True
    )

    listed = editor_client.get("/api/networks?needs_review=true").json()
    assert [(n["cidr"], n["needs_review"]) for n in listed["results"]] == [(BRANCH, True)]
    assert editor_client.get("/api/networks").json()["count"] == 2
    assert editor_client.get("/api/networks?needs_review=").status_code == 400

    response = patch(editor_client, f"/api/networks/{adopted.pk}", {"reviewed": True})

    assert response.status_code == 200
    assert response.json()["needs_review"] is False
    event = AuditEvent.objects.get(action="network.update")
    assert (event.before["needs_review"], event.after["needs_review"]) == (True, False)
    assert editor_client.get("/api/networks?needs_review=true").json()["count"] == 0
    bad = patch(editor_client, f"/api/networks/{adopted.pk}", {"reviewed": "yes"})
    assert bad.status_code == 400 and "reviewed" in bad.json()["error"]["fields"]
