"""/api/me (whose address, spoofing-proof), /api/sync, /api/audit, schema and admin static."""

import pytest
from django.test import Client

from accesscontrol.models import AuditEvent
from tests.api.conftest import EDGE_IP, VIEWER_IP, alb_headers, cover
from tests.api.test_networks import BRANCH, OFFICE, add, post

pytestmark = pytest.mark.django_db

SPOOFED = "8.8.8.8"


def test_me_reports_user_viewer_ip_and_covering_networks(editor_client, waf):
    add(editor_client, OFFICE, label="Head office")
    add(editor_client, BRANCH, label="Branch")
    body = editor_client.get("/api/me").json()
    assert body["user"]["username"] == "editor"
    assert body["user"]["role"] == "editor"
    assert body["viewer_ip"] == VIEWER_IP
    assert body["allowed"] is True
    assert [(n["cidr"], n["covers_you"]) for n in body["covering_networks"]] == [(OFFICE, True)]


def test_me_when_not_covered_says_not_allowed(editor_client, waf):
    add(editor_client, BRANCH)
    body = editor_client.get("/api/me").json()
    assert body["allowed"] is False
    assert body["covering_networks"] == []


def test_spoofed_left_most_forwarded_for_cannot_change_my_ip(editor_client, waf):
    editor_client.defaults["HTTP_X_FORWARDED_FOR"] = f"{SPOOFED}, {VIEWER_IP}, {EDGE_IP}"
    assert editor_client.get("/api/me").json()["viewer_ip"] == VIEWER_IP


def test_viewer_address_header_is_ignored_without_origin_secrets(editor_client, waf, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    response = editor_client.get("/api/me", headers={"cloudfront-viewer-address": f"{SPOOFED}:443"})
    assert response.json()["viewer_ip"] == VIEWER_IP


def test_viewer_address_header_needs_the_right_origin_secret(editor_client, waf, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = ["s3cret"]
    cover("62.30.112.5/32")  # behind the edge Django, like WAF, admits allowlisted viewers
    forged = editor_client.get(
        "/api/me",
        headers={"cloudfront-viewer-address": f"{SPOOFED}:443", "x-origin-verify": "guess"},
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "origin_forbidden"

    # Through the edge: CloudFront overwrites the header with the address WAF judged.
    trusted = editor_client.get(
        "/api/me",
        headers={"cloudfront-viewer-address": "62.30.112.5:51234", "x-origin-verify": "s3cret"},
    )
    assert trusted.json()["viewer_ip"] == "62.30.112.5"


def test_ipv6_viewer_address_header_is_split_on_the_last_colon(editor_client, waf, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = ["s3cret"]
    cover("2a00:1450:4009::/48")
    response = editor_client.get(
        "/api/me",
        headers={
            "cloudfront-viewer-address": "2a00:1450:4009::7:443",
            "x-origin-verify": "s3cret",
        },
    )
    assert response.json()["viewer_ip"] == "2a00:1450:4009::7"


def test_session_viewer_ip_also_ignores_spoofing():
    client = Client(**alb_headers())
    client.defaults["HTTP_X_FORWARDED_FOR"] = f"{SPOOFED}, {VIEWER_IP}, {EDGE_IP}"
    assert client.get("/api/auth/session").json()["viewer_ip"] == VIEWER_IP


def test_sync_status_lists_both_sets(editor_client, waf, settings):
    add(editor_client, BRANCH)
    body = editor_client.get("/api/sync").json()
    assert body["in_sync"] is False  # the v6 set has never been synced
    by_version = {s["ip_version"]: s for s in body["sets"]}
    assert by_version[4]["name"] == f"{settings.GATEHOUSE_EDGE_NAME}-office-v4"
    assert by_version[4]["status"] == "in_sync"
    assert by_version[4]["entries"] == 1
    assert by_version[4]["last_synced_at"] is not None
    assert by_version[6]["name"] == f"{settings.GATEHOUSE_EDGE_NAME}-office-v6"


def test_sync_dry_run_plans_adoption_without_writing(editor_client, waf):
    add(editor_client, BRANCH)
    waf.edit(4, {BRANCH, "93.184.216.0/24"})
    response = post(editor_client, "/api/sync", {"dry_run": True})
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    plan = {s["ip_version"]: s for s in body["sets"]}
    assert plan[4]["adopted"] == ["93.184.216.0/24"]
    assert plan[4]["wrote"] is False
    assert not AuditEvent.objects.filter(action="network.adopt").exists()

    applied = post(editor_client, "/api/sync", {"dry_run": False}).json()
    assert applied["dry_run"] is False
    assert {s["ip_version"]: s["status"] for s in applied["sets"]} == {4: "in_sync", 6: "in_sync"}
    assert AuditEvent.objects.filter(action="network.adopt", subject="93.184.216.0/24").exists()
    assert editor_client.get("/api/sync").json()["in_sync"] is True


def test_sync_without_body_runs_a_real_sync(editor_client, waf):
    response = post(editor_client, "/api/sync", {})
    assert response.status_code == 200
    assert response.json()["dry_run"] is False


def test_audit_is_newest_first_filterable_and_cursor_paginated(editor_client, waf):
    responses = [
        post(editor_client, "/api/networks", {"cidr": f"62.30.{i}.0/24", "label": f"n{i}"})
        for i in range(3)
    ]
    body = editor_client.get("/api/audit?action=network.allow").json()
    assert [e["subject"] for e in body["results"]] == [
        "62.30.2.0/24",
        "62.30.1.0/24",
        "62.30.0.0/24",
    ]
    first = body["results"][0]
    assert first["actor"] == "editor"
    assert first["request_ip"] == VIEWER_IP
    assert first["user_agent"] == "pytest-browser/1.0"
    assert first["auth_method"] == "password+totp"  # how make_client's session signed in
    assert first["after"]["cidr"] == "62.30.2.0/24"
    assert set(first) == {
        "id", "created_at", "actor", "action", "subject", "before", "after", "reason",
        "request_ip", "user_agent", "auth_method", "request_id",
    }  # fmt: skip
    # The event names the request that made it (its X-Request-Id response header).
    assert first["request_id"] == responses[2]["X-Request-Id"]
    assert editor_client.get("/api/audit?actor=nobody-here").json()["results"] == []


def test_audit_cursor_walks_every_event_once(editor_client, waf):
    from accesscontrol.services import Requester, record_audit_event

    for i in range(120):
        record_audit_event(requester=Requester(), action="test.event", subject=f"e{i}")
    seen, url = [], "/api/audit?action=test.event"
    while url:
        page = editor_client.get(url).json()
        seen += [e["subject"] for e in page["results"]]
        url = page["next"]
    assert seen == [f"e{i}" for i in reversed(range(120))]


def test_audit_bad_cursor_is_404_in_the_error_shape(editor_client, waf):
    response = editor_client.get("/api/audit?cursor=garbage")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_schema_is_openapi_3_json_with_every_operation(client):
    response = client.get("/api/schema?format=json", headers={"x-forwarded-proto": "https"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "delete")
    }
    assert operations == {
        ("GET", "/api/auth/session"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/logout"),
        ("GET", "/api/auth/second-factor"),
        ("POST", "/api/auth/second-factor/verify"),
        ("POST", "/api/auth/second-factor/totp"),
        ("GET", "/api/auth/second-factor/totp/qr.svg"),
        ("POST", "/api/auth/second-factor/totp/confirm"),
        ("GET", "/api/me"),
        ("GET", "/api/networks"),
        ("POST", "/api/networks"),
        ("POST", "/api/networks/mine"),
        ("GET", "/api/networks/{id}"),
        ("PATCH", "/api/networks/{id}"),
        ("DELETE", "/api/networks/{id}"),
        ("GET", "/api/sync"),
        ("POST", "/api/sync"),
        ("GET", "/api/audit"),
        ("GET", "/api/audit/export"),
        ("GET", "/api/access-links"),
        ("POST", "/api/access-links"),
        ("DELETE", "/api/access-links/{id}"),
        ("GET", "/api/blocked"),
        ("POST", "/api/networks/import"),
        ("GET", "/api/networks/export"),
        ("GET", "/api/tokens"),
        ("POST", "/api/tokens"),
        ("DELETE", "/api/tokens/{id}"),
    }


def test_admin_login_page_and_its_static_files_are_served_under_api(https_client):
    page = https_client.get("/api/admin/login/")
    assert page.status_code == 200
    assert b"/api/static/admin/css/base.css" in page.content
    css = https_client.get("/api/static/admin/css/base.css")
    assert css.status_code == 200
    assert b"".join(css.streaming_content if css.streaming else [css.content])


def test_admin_is_for_staff_only(make_client):
    response = make_client("editor").get("/api/admin/")
    assert response.status_code == 302
    assert "/api/admin/login/" in response["Location"]
    assert make_client("superuser").get("/api/admin/").status_code == 200


def test_unknown_api_paths_are_json_404s(editor_client):
    for path in ("/api/nothing-here", "/api/networks/-5", "/api/networks/abc", "/api/a%0Ab"):
        response = editor_client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_admin_without_slash_still_redirects(https_client):
    response = https_client.get("/api/admin")
    assert response.status_code == 301
    assert response["Location"] == "/api/admin/"


def test_schema_is_valid_openapi_without_generator_warnings(tmp_path):
    from django.core.management import call_command

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert "/api/networks/{id}" in (tmp_path / "schema.yml").read_text()
