"""GET /api/blocked: roles, the documented shape, WAF failures as the one JSON error, and
the editor's way to let a blocked address in (POST /api/networks with ttl_hours)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from moto.wafv2.exceptions import WAFv2ClientError

from accesscontrol.models import AllowedNetwork, AuditEvent
from accesscontrol.waf import forget_web_acl
from deploy import moto_fixes
from deploy.moto_fixes import record_sampled_request

pytestmark = pytest.mark.django_db

BLOCKED_IP = "62.30.112.23"


@pytest.fixture(autouse=True)
def no_cached_web_acl():
    forget_web_acl()
    yield
    forget_web_acl()


@pytest.fixture
def acl(waf, settings) -> dict:
    # The allowlist admits the API clients' viewer (tests/api/conftest.py), as in production.
    AllowedNetwork.objects.create(cidr="81.2.69.0/24", ip_version=4, label="Office")
    summary = waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    for uri in ("/", "/api/me"):
        record_sampled_request(
            web_acl_arn=summary["ARN"],
            metric_name=summary["Name"].replace("-", ""),
            sample={
                "Request": {"ClientIP": BLOCKED_IP, "Country": "NL", "URI": uri, "Method": "GET"},
                "Weight": 1,
                "Timestamp": time.time() - 30,
                "Action": "BLOCK",
            },
        )
    return summary


@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 401), ("nobody", 403), ("viewer", 200), ("editor", 200)]
)
def test_viewers_and_up_read_the_blocked_list(make_client, acl, role, status):
    response = make_client(role).get("/api/blocked")
    assert response.status_code == status
    if status != 200:
        assert set(response.json()["error"]) >= {"code", "message", "fields"}


def test_the_list_has_the_documented_shape(make_client, acl):
    body = make_client("viewer").get("/api/blocked").json()
    [entry] = body["addresses"]
    assert entry["address"] == BLOCKED_IP
    assert entry["count"] == 2
    assert entry["country"] == "NL"
    assert sorted(entry["paths"]) == ["/", "/api/me"]
    assert entry["more_paths"] == 0 and entry["allowed_now"] is False
    assert entry["last_seen"] and entry["first_seen"]
    assert body["sampled"] == 2 and body["population_size"] == 2
    assert body["sampling_enabled"] is True
    assert body["since"] < body["until"]


def test_the_schema_documents_the_operation(client):
    schema = client.get("/api/schema?format=json", headers={"x-forwarded-proto": "https"}).json()
    operation = schema["paths"]["/api/blocked"]["get"]
    assert set(operation["responses"]) == {"200", "401", "403", "503"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    report = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"addresses", "since", "until", "sampled", "population_size"} <= set(
        report["properties"]
    )


def test_waf_refusing_is_a_clean_503(make_client, acl, monkeypatch):
    def refuse(*args, **kwargs):
        raise WAFv2ClientError("AccessDeniedException", "User: arn:aws:iam::1:role/app not auth")

    monkeypatch.setattr(moto_fixes, "_sampled_requests", refuse)
    response = make_client("viewer").get("/api/blocked")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "waf_unavailable"
    assert "AccessDeniedException" in error["message"]
    assert "arn:aws:iam" not in response.content.decode()


def test_a_missing_web_acl_is_a_clean_503(make_client, waf):
    response = make_client("viewer").get("/api/blocked")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "waf_unavailable"
    assert "provision_infra" in response.json()["error"]["message"]


def test_an_editor_allows_a_blocked_address_for_some_hours(make_client, acl, waf):
    editor = make_client("editor", csrf=True)
    editor.get("/api/auth/session")
    token = editor.cookies["csrftoken"].value

    response = editor.post(
        "/api/networks",
        data=json.dumps(
            {"cidr": BLOCKED_IP, "label": f"Blocked address {BLOCKED_IP}", "ttl_hours": 8}
        ),
        content_type="application/json",
        headers={"x-csrftoken": token, "referer": "https://testserver/"},
    )

    assert response.status_code == 201, response.json()
    network = AllowedNetwork.objects.get(cidr=f"{BLOCKED_IP}/32")
    assert network.expires_at - timezone.now() == pytest.approx(
        timedelta(hours=8), abs=timedelta(minutes=1)
    )
    assert f"{BLOCKED_IP}/32" in waf.addresses(4)
    assert AuditEvent.objects.filter(subject=f"{BLOCKED_IP}/32", actor_name="editor").exists()
    [entry] = make_client("viewer").get("/api/blocked").json()["addresses"]
    assert entry["allowed_now"] is True


def test_a_viewer_cannot_allow_a_blocked_address(make_client, acl):
    viewer = make_client("viewer")
    response = viewer.post(
        "/api/networks",
        data=json.dumps({"cidr": BLOCKED_IP, "label": "x", "ttl_hours": 8}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not AllowedNetwork.objects.filter(cidr=f"{BLOCKED_IP}/32").exists()
