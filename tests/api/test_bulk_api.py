"""POST /api/networks/import and GET /api/networks/export: roles, the per-line answer, the
400 naming refused lines, valid_only, dry_run, size limits, one WAF write."""

import json

import pytest
from moto.wafv2.models import WAFV2Backend

from accesscontrol.models import AllowedNetwork, AuditEvent

pytestmark = pytest.mark.django_db

IMPORT = "/api/networks/import"
EXPORT = "/api/networks/export"


def post(client, body):
    return client.post(IMPORT, json.dumps(body), content_type="application/json")


@pytest.fixture
def waf_writes(monkeypatch):
    writes: list[str] = []
    original = WAFV2Backend.update_ip_set

    def counting(self, name, *args, **kwargs):
        writes.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(WAFV2Backend, "update_ip_set", counting)
    return writes


@pytest.mark.parametrize(
    ("role", "expected"), [("anonymous", 401), ("viewer", 403), ("editor", 200)]
)
def test_importing_needs_the_editor_role(make_client, role, expected, waf):
    response = post(make_client(role), {"text": "81.2.69.0/24", "label": "X", "dry_run": True})
    assert response.status_code == expected


def test_a_dry_run_answers_every_line_and_saves_nothing(editor_client, waf):
    text = "cidr,label\n81.2.69.0/24,Office\n81.2.70.1/24,Bad\n"
    response = post(editor_client, {"text": text, "dry_run": True})

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["valid"], body["refused"], body["created"]) == (2, 1, 1, 0)
    assert [(line["line"], line["status"]) for line in body["lines"]] == [
        (2, "valid"),
        (3, "refused"),
    ]
    assert "81.2.70.0/24" in body["lines"][1]["errors"]["cidr"][0]
    assert AllowedNetwork.objects.count() == 0


def test_a_refused_line_is_a_400_naming_it_and_nothing_is_saved(editor_client, waf, waf_writes):
    text = "cidr,label\n81.2.69.0/24,Office\n10.1.0.0/16,Private\n"
    response = post(editor_client, {"text": text})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "import_refused"
    assert error["fields"]["text"][0].startswith("Line 3: cidr: ")
    assert "1 of 2 lines refused; nothing was imported. Line 3" in error["message"]
    assert [line["status"] for line in error["lines"]] == ["valid", "refused"]
    assert AllowedNetwork.objects.count() == 0 and AuditEvent.objects.count() == 0
    assert waf_writes == []


def test_valid_only_imports_the_valid_lines(editor_client, waf):
    text = "cidr,label\n81.2.69.0/24,Office\n10.1.0.0/16,Private\n"
    response = post(editor_client, {"text": text, "valid_only": True})

    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 1 and body["sync"]["status"] == "applied"
    created = body["lines"][0]
    assert created["status"] == "created"
    assert AllowedNetwork.objects.get(pk=created["id"]).cidr == "81.2.69.0/24"
    assert waf.addresses(4) == {"81.2.69.0/24"}


def test_a_thousand_lines_through_the_api_are_one_waf_write(editor_client, waf, waf_writes):
    cidrs = [f"81.2.{i // 250}.{i % 250 + 1}/32" for i in range(1_000)]
    response = post(editor_client, {"text": "\n".join(cidrs), "label": "Bulk", "format": "lines"})

    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 1_000
    assert waf_writes == [waf.names[4]]
    assert AuditEvent.objects.filter(action="network.allow").count() == 1_000
    assert {e.actor_name for e in AuditEvent.objects.filter(action="network.allow")} == {"editor"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": 5}, "text"),
        ({"text": "81.2.69.0/24"}, "label"),  # plain lines need one label
        ({"text": "81.2.69.0/24", "label": "X", "format": "xml"}, "format"),
        ({"text": "81.2.69.0/24", "label": "X", "valid_only": "yes"}, "valid_only"),
        ({"text": "81.2.69.0/24", "label": "X", "ttl_hours": 0}, "ttl_hours"),
        ({"text": "cidr;label\n81.2.69.0/24;X"}, "text"),  # the header is line 1
    ],
)
def test_malformed_input_is_a_400_naming_the_field(editor_client, waf, body, field):
    response = post(editor_client, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert AllowedNetwork.objects.count() == 0


def test_the_import_accepts_a_larger_body_than_other_requests(editor_client, settings, waf):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    settings.GATEHOUSE_IMPORT_MAX_BYTES = 100_000
    big = {"text": "\n".join(f"81.2.{i // 250}.{i % 250 + 1}" for i in range(300)), "label": "B"}
    assert len(json.dumps(big)) > 1_000

    assert post(editor_client, {**big, "dry_run": True}).status_code == 200
    other = editor_client.post(
        "/api/networks",
        json.dumps({"cidr": "81.2.69.0/24", "label": "x" * 2_000}),
        content_type="application/json",
    )
    assert other.status_code == 413
    settings.GATEHOUSE_IMPORT_MAX_BYTES = 2_000
    too_big = post(editor_client, {**big, "dry_run": True})
    assert too_big.status_code == 413 and "2,000 bytes" in too_big.json()["error"]["message"]


def test_export_is_for_viewers_and_streams_csv_and_json(make_client, waf):
    editor = make_client("editor")
    post(editor, {"text": "81.2.69.0/24\n2a02:8010:1234::/48", "label": "Office"})
    viewer = make_client("viewer")

    csv_response = viewer.get(EXPORT)
    json_response = viewer.get(EXPORT, {"format": "json"})

    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    assert 'filename="gatehouse-allowlist.csv"' in csv_response["Content-Disposition"]
    csv_text = b"".join(csv_response.streaming_content).decode()
    assert csv_text.splitlines() == [
        "cidr,label,note,expires_at",
        "81.2.69.0/24,Office,,",
        "2a02:8010:1234::/48,Office,,",
    ]
    records = json.loads(b"".join(json_response.streaming_content))
    assert [(r["cidr"], r["ip_version"]) for r in records] == [
        ("81.2.69.0/24", 4),
        ("2a02:8010:1234::/48", 6),
    ]
    assert make_client("anonymous").get(EXPORT).status_code == 401
    assert viewer.get(EXPORT, {"format": "xml"}).status_code == 400
