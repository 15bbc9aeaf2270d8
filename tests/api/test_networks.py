"""The allowlist endpoints: thin views over the services, WAF (moto) synced for real."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from moto.wafv2.exceptions import WAFv2ClientError
from moto.wafv2.models import WAFV2Backend

from accesscontrol.models import AllowedNetwork, AuditEvent, IpSetSyncState
from tests.api.conftest import VIEWER_IP

pytestmark = pytest.mark.django_db

OFFICE = "81.2.69.0/24"  # covers VIEWER_IP
BRANCH = "62.30.112.0/24"
V6 = "2a00:1450:4009::/48"


def post(client, path, body, **kwargs):
    return client.post(path, body, content_type="application/json", **kwargs)


def patch(client, path, body, **kwargs):
    return client.patch(path, body, content_type="application/json", **kwargs)


def add(client, cidr, label="Office", **extra):
    response = post(client, "/api/networks", {"cidr": cidr, "label": label, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_adding_a_network_answers_201_with_the_network_and_applied_sync(editor_client, waf):
    response = post(
        editor_client,
        "/api/networks",
        {"cidr": "62.30.112.0/24", "label": "Branch", "note": "2nd floor"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["cidr"] == "62.30.112.0/24"
    assert body["ip_version"] == 4
    assert body["label"] == "Branch"
    assert body["note"] == "2nd floor"
    assert body["status"] == "active"
    assert body["source"] == "console"
    assert body["expires_at"] is None
    assert body["created_by"] == "editor"
    assert body["covers_you"] is False
    assert body["sync"] == {"status": "applied", "reason": ""}
    assert body["covered_by"] == []
    assert set(body) >= {"id", "created_at", "updated_at"}
    assert waf.addresses(4) == {"62.30.112.0/24"}


def test_adding_records_viewer_ip_and_user_agent_in_the_audit(editor_client, waf):
    add(editor_client, BRANCH)
    event = AuditEvent.objects.get(action="network.allow")
    assert event.actor_name == "editor"
    assert event.request_ip == VIEWER_IP
    assert event.user_agent == "pytest-browser/1.0"


def test_a_bare_address_becomes_a_host_network(editor_client, waf):
    body = add(editor_client, "62.30.112.9")
    assert body["cidr"] == "62.30.112.9/32"
    body = add(editor_client, "2a00:1450:4009::1", label="v6 host")
    assert body["cidr"] == "2a00:1450:4009::1/128"
    assert waf.addresses(6) == {"2a00:1450:4009::1/128"}


def test_host_bits_set_is_400_naming_the_network_address(editor_client, waf):
    response = post(editor_client, "/api/networks", {"cidr": "62.30.112.9/24", "label": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "62.30.112.0/24" in " ".join(error["fields"]["cidr"])


def test_missing_label_is_400_with_a_field_message(editor_client, waf):
    response = post(editor_client, "/api/networks", {"cidr": BRANCH})
    assert response.status_code == 400
    assert "label" in response.json()["error"]["fields"]


def test_duplicate_is_409_with_the_existing_network(editor_client, waf):
    first = add(editor_client, BRANCH)
    response = post(editor_client, "/api/networks", {"cidr": "62.30.112.0/24", "label": "Again"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate"
    assert error["existing"]["id"] == first["id"]
    assert error["existing"]["label"] == "Office"


def test_ttl_hours_makes_a_temporary_entry(editor_client, waf):
    body = add(editor_client, BRANCH, ttl_hours=2)
    network = AllowedNetwork.objects.get(pk=body["id"])
    assert (
        timedelta(hours=1, minutes=59) < network.expires_at - timezone.now() <= timedelta(hours=2)
    )
    assert body["expires_at"] is not None


def test_expires_at_and_ttl_hours_together_are_refused(editor_client, waf):
    later = (timezone.now() + timedelta(days=1)).isoformat()
    response = post(
        editor_client,
        "/api/networks",
        {"cidr": BRANCH, "label": "x", "expires_at": later, "ttl_hours": 3},
    )
    assert response.status_code == 400
    assert "ttl_hours" in response.json()["error"]["fields"]


def test_editor_cannot_widen_beyond_the_minimum_prefix_but_superuser_can(make_client, waf):
    response = post(make_client("editor"), "/api/networks", {"cidr": "62.0.0.0/8", "label": "x"})
    assert response.status_code == 400
    assert "cidr" in response.json()["error"]["fields"]
    response = post(make_client("superuser"), "/api/networks", {"cidr": "62.0.0.0/8", "label": "x"})
    assert response.status_code == 201


def test_list_is_paginated_newest_first_with_covers_you(editor_client, waf):
    for i in range(3):
        add(editor_client, f"62.30.{i}.0/24", label=f"Branch {i}")
    add(editor_client, OFFICE, label="Head office")
    response = editor_client.get("/api/networks?page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert body["previous"] is None
    assert "cursor=" in body["next"] and "page=" not in body["next"].replace("page_size", "")
    assert [n["label"] for n in body["results"]] == ["Head office", "Branch 2"]
    assert [n["covers_you"] for n in body["results"]] == [True, False]

    second = editor_client.get(body["next"]).json()
    assert [n["label"] for n in second["results"]] == ["Branch 1", "Branch 0"]
    assert second["next"] is None
    assert second["previous"] is not None


def test_list_filters_by_status_and_searches_label_and_cidr(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    temp = add(editor_client, BRANCH, label="Contractor", ttl_hours=1)
    AllowedNetwork.objects.filter(pk=temp["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    expired = editor_client.get("/api/networks?status=expired").json()["results"]
    assert [(n["label"], n["status"], n["covers_you"]) for n in expired] == [
        ("Contractor", "expired", False)
    ]
    active = editor_client.get("/api/networks?status=active").json()["results"]
    assert [n["label"] for n in active] == ["Head office"]
    assert [
        n["label"] for n in editor_client.get("/api/networks?search=head").json()["results"]
    ] == ["Head office"]
    found = editor_client.get("/api/networks?search=62.30.112").json()["results"]
    assert [n["label"] for n in found] == ["Contractor"]


def test_list_rejects_unknown_status_and_bad_page(editor_client, waf):
    assert editor_client.get("/api/networks?status=gone").status_code == 400
    assert editor_client.get("/api/networks?page=0").status_code == 400
    assert editor_client.get("/api/networks?page=abc").status_code == 400
    assert editor_client.get("/api/networks?page=9").status_code == 404


def test_page_size_is_capped_at_500(editor_client, waf):
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"62.{i // 256}.{i % 256}.0/24", ip_version=4, label=f"n{i}")
        for i in range(510)
    )
    body = editor_client.get("/api/networks?page_size=1000").json()
    assert body["count"] == 510
    assert len(body["results"]) == 500


def test_mine_adds_the_viewers_own_address(editor_client, waf):
    response = post(editor_client, "/api/networks/mine", {"ttl_hours": 8})
    assert response.status_code == 201
    body = response.json()
    assert body["cidr"] == f"{VIEWER_IP}/32"
    assert body["covers_you"] is True
    assert body["label"].startswith("editor")
    assert body["expires_at"] is not None
    assert waf.addresses(4) == {f"{VIEWER_IP}/32"}


def test_mine_when_already_covered_says_by_what(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    body = post(editor_client, "/api/networks/mine", {"label": "Laptop"}).json()
    assert body["covered_by"] == [OFFICE]


def test_get_one_and_404_for_missing(editor_client, waf):
    created = add(editor_client, BRANCH)
    response = editor_client.get(f"/api/networks/{created['id']}")
    assert response.status_code == 200
    assert response.json()["cidr"] == BRANCH
    missing = editor_client.get("/api/networks/999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_patch_changes_label_and_clears_expiry(editor_client, waf):
    created = add(editor_client, BRANCH, ttl_hours=4)
    response = patch(
        editor_client, f"/api/networks/{created['id']}", {"label": "Branch", "expires_at": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "Branch"
    assert body["expires_at"] is None
    assert body["sync"]["status"] == "applied"
    event = AuditEvent.objects.get(action="network.update")
    assert event.before["label"] == "Office"
    assert event.after["label"] == "Branch"
    assert event.request_ip == VIEWER_IP


def test_delete_answers_204_and_removes_from_waf(editor_client, waf):
    add(editor_client, OFFICE)
    branch = add(editor_client, BRANCH)
    response = editor_client.delete(f"/api/networks/{branch['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert waf.addresses(4) == {OFFICE}
    event = AuditEvent.objects.get(action="network.revoke")
    assert (event.subject, event.request_ip) == (BRANCH, VIEWER_IP)


def test_removing_your_own_network_needs_confirmation(editor_client, waf):
    office = add(editor_client, OFFICE)
    add(editor_client, BRANCH)

    refused = editor_client.delete(f"/api/networks/{office['id']}")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "self_lockout"
    assert error["viewer_ip"] == VIEWER_IP
    assert [n["cidr"] for n in error["covering"]] == [OFFICE]
    assert AllowedNetwork.objects.filter(pk=office["id"]).exists()

    confirmed = editor_client.delete(f"/api/networks/{office['id']}?confirm=true")
    assert confirmed.status_code == 204
    assert waf.addresses(4) == {BRANCH}


def test_self_lockout_body_says_the_network_covering_you_covers_you(editor_client, waf):
    office = add(editor_client, OFFICE)
    add(editor_client, BRANCH)

    for response in (
        editor_client.delete(f"/api/networks/{office['id']}"),
        patch(
            editor_client,
            f"/api/networks/{office['id']}",
            {"expires_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        ),
    ):
        assert response.status_code == 409
        covering = response.json()["error"]["covering"]
        assert [(n["cidr"], n["covers_you"]) for n in covering] == [(OFFICE, True)]


def test_shortening_your_own_access_needs_confirmation(editor_client, waf):
    office = add(editor_client, OFFICE)
    add(editor_client, BRANCH)  # a permanent IPv4 network remains: only you are cut off
    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    refused = patch(editor_client, f"/api/networks/{office['id']}", {"expires_at": soon})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "self_lockout"
    confirmed = patch(
        editor_client, f"/api/networks/{office['id']}?confirm=true", {"expires_at": soon}
    )
    assert confirmed.status_code == 200


def test_removing_the_last_network_is_refused_even_when_confirmed(editor_client, waf):
    only = add(editor_client, BRANCH)
    for suffix in ("", "?confirm=true"):
        response = editor_client.delete(f"/api/networks/{only['id']}{suffix}")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "empty_allowlist"
    assert waf.addresses(4) == {BRANCH}


def test_waf_failure_keeps_the_change_and_says_pending_without_aws_text(editor_client, waf):
    secret_text = "arn:aws:wafv2:internal-detail-7f3a"
    failure = WAFv2ClientError("WAFInternalErrorException", secret_text)
    with mock.patch.object(WAFV2Backend, "update_ip_set", side_effect=failure):
        response = post(editor_client, "/api/networks", {"cidr": BRANCH, "label": "Branch"})
        status_body = editor_client.get("/api/sync").content.decode()
    assert response.status_code == 201
    body = response.json()
    assert body["sync"]["status"] == "pending"
    assert body["sync"]["reason"]
    assert secret_text not in response.content.decode()
    assert secret_text not in status_body
    assert AllowedNetwork.objects.filter(cidr=BRANCH).exists()
    assert IpSetSyncState.objects.get(ip_version=4).status == "pending"


def test_unexpected_aws_error_in_a_view_is_503_not_500(editor_client, waf):
    from botocore.exceptions import EndpointConnectionError

    error = EndpointConnectionError(endpoint_url="https://wafv2.internal-detail-7f3a")
    with mock.patch("accesscontrol.selectors.sync_states", side_effect=error):
        response = editor_client.get("/api/sync")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sync_unavailable"
    assert "internal-detail" not in response.content.decode()


def test_invalid_json_is_400_in_the_error_shape(editor_client, waf):
    response = editor_client.post("/api/networks", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "body",
    [
        {"cidr": BRANCH, "label": 5},
        {"cidr": BRANCH, "label": "x", "note": 1.5},
        {"cidr": BRANCH, "label": "x", "ttl_hours": "3"},
        {"cidr": 623011200, "label": "x"},
    ],
)
def test_json_of_the_wrong_type_is_400(editor_client, waf, body):
    response = post(editor_client, "/api/networks", body)
    assert response.status_code == 400
    assert AllowedNetwork.objects.count() == 0


def test_nul_characters_are_400_not_a_database_error(editor_client, waf):
    # PostgreSQL refuses NUL in text; DRF's fields refuse it first, with a message.
    assert editor_client.get("/api/networks?search=a%00b").status_code == 400
    assert editor_client.get("/api/audit?actor=a%00b").status_code == 400
    response = post(editor_client, "/api/networks", {"cidr": BRANCH, "label": "a\x00b"})
    assert response.status_code == 400
    assert "label" in response.json()["error"]["fields"]


def test_a_list_page_costs_at_most_four_queries(editor_client, waf):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"62.{i // 256}.{i % 256}.0/24", ip_version=4, label=f"n{i}")
        for i in range(120)
    )
    editor_client.get("/api/networks")
    with CaptureQueriesContext(connection) as queries:
        body = editor_client.get("/api/networks?status=active&search=n1").json()
    # session, user, the user's permissions, the page with its count
    assert len(queries) <= 4, [q["sql"] for q in queries.captured_queries]
    assert body["count"] == 31  # n1, n10..n19, n100..n119
    assert len(body["results"]) == 31


def test_the_viewer_is_resolved_once_per_change_request(make_client, waf, through_edge):
    from accesscontrol import clientip
    from tests.api.conftest import cover, edge_headers

    cover(OFFICE)
    client = make_client("editor")
    client.defaults.update(edge_headers())
    with mock.patch.object(clientip, "_resolve", wraps=clientip._resolve) as resolve:
        response = post(client, "/api/networks/mine", {"label": "me"})
    # The allowlist gate, the requester (audit, guards) and covers_you share one address.
    assert response.status_code == 201, response.content
    assert response.json()["covers_you"] is True
    assert resolve.call_count == 1


def test_ttl_hours_maximum_is_in_the_schema_and_enforced(editor_client, waf):
    from accesscontrol.validation import MAX_TTL_HOURS

    schema = editor_client.get("/api/schema?format=json").json()
    for name in ("NetworkCreateRequest", "MyNetworkCreateRequest", "PatchedNetworkUpdateRequest"):
        ttl = schema["components"]["schemas"][name]["properties"]["ttl_hours"]
        assert (ttl["minimum"], ttl["maximum"]) == (1, MAX_TTL_HOURS)
    too_long = post(
        editor_client,
        "/api/networks",
        {"cidr": BRANCH, "label": "x", "ttl_hours": MAX_TTL_HOURS + 1},
    )
    assert too_long.status_code == 400
    assert "ttl_hours" in too_long.json()["error"]["fields"]
    longest = add(editor_client, BRANCH, ttl_hours=MAX_TTL_HOURS)
    expires = timezone.datetime.fromisoformat(longest["expires_at"])
    assert expires - timezone.now() > timedelta(hours=MAX_TTL_HOURS - 1)
