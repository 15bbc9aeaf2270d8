"""Readiness (GET /api/ready), the request id (X-Request-Id) and JSON log lines.

The request id is believed from the edge (the ALB's X-Amzn-Trace-Id Root) only when the
origin secret matched; it reaches the response header, every log line of the request and
the audit events the request made."""

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from accesscontrol.models import AuditEvent, IpSetSyncState
from accesscontrol.requestlog import logging_config
from tests.api.conftest import VIEWER_IP, alb_headers, cover, edge_headers

TRACE_ROOT = "1-67891233-abcdef012345678912345678"
TRACE_HEADER = f"Self=1-67891233-12456789abcdef012345678;Root={TRACE_ROOT};Sampled=1"
GENERATED = re.compile(r"^[0-9a-f]{32}$")

pytestmark = pytest.mark.django_db


def set_state(version, status, *, synced_ago=None):
    # update_or_create: a transactional test before this one may have flushed migration
    # 0005's rows.
    IpSetSyncState.objects.update_or_create(
        ip_version=version,
        defaults={
            "name": f"gatehouse-office-v{version}",
            "status": status,
            "last_synced_at": timezone.now() - synced_ago if synced_ago is not None else None,
        },
    )


def ready(client, **headers):
    return client.get("/api/ready", **{**alb_headers(), **headers})


# --- readiness ---------------------------------------------------------------------------


def test_ready_when_both_sets_are_in_sync(client):
    set_state(4, "in_sync", synced_ago=timedelta(minutes=1))
    set_state(6, "in_sync", synced_ago=timedelta(minutes=1))
    response = ready(client)
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["problems"] == []
    assert {v["status"] for v in body["sets"].values()} == {"in_sync"}
    assert "no-cache" in response["Cache-Control"]


def test_pending_within_the_threshold_is_still_ready(client, settings):
    settings.GATEHOUSE_READY_PENDING_SECONDS = 600
    set_state(4, "in_sync", synced_ago=timedelta(minutes=1))
    set_state(6, "pending", synced_ago=timedelta(minutes=9))
    response = ready(client)
    assert response.status_code == 200
    assert response.json()["sets"]["v6"]["pending_seconds"] == pytest.approx(540, abs=5)


def test_pending_beyond_the_threshold_is_503_naming_the_set(client, settings):
    settings.GATEHOUSE_READY_PENDING_SECONDS = 600
    set_state(4, "in_sync", synced_ago=timedelta(minutes=1))
    set_state(6, "pending", synced_ago=timedelta(minutes=11))
    response = ready(client)
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem["code"] == "sync_pending_too_long"
    assert "gatehouse-office-v6" in problem["message"]


def test_failed_sync_is_503(client):
    set_state(4, "failed", synced_ago=timedelta(seconds=5))
    set_state(6, "in_sync", synced_ago=timedelta(seconds=5))
    response = ready(client)
    assert response.status_code == 503
    assert [p["code"] for p in response.json()["problems"]] == ["sync_failed"]


def test_unreachable_database_is_503(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(IpSetSyncState.objects, "all", refuse)
    response = ready(client)
    assert response.status_code == 503
    assert response.json()["problems"][0]["code"] == "database_unreachable"
    assert "refused" not in response.content.decode()  # no driver text to the monitor


def test_readiness_is_behind_the_origin_secret_and_the_allowlist(client, through_edge):
    for version in (4, 6):
        set_state(version, "in_sync", synced_ago=timedelta(seconds=5))
    assert client.get("/api/ready", **alb_headers()).status_code == 403  # no secret
    response = client.get("/api/ready", **edge_headers())
    assert response.status_code == 403  # secret, but the viewer is not allowed
    assert response.json()["error"]["code"] == "viewer_not_allowed"
    cover(f"{VIEWER_IP}/32")
    assert client.get("/api/ready", **edge_headers()).status_code == 200


def test_readiness_costs_one_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        ready(client)


# --- request id --------------------------------------------------------------------------


def test_a_request_gets_a_fresh_id_in_its_response(client):
    first = client.get("/api/ready", **alb_headers())["X-Request-Id"]
    second = client.get("/api/ready", **alb_headers())["X-Request-Id"]
    assert GENERATED.match(first) and GENERATED.match(second) and first != second


def test_trace_id_without_the_origin_secret_is_ignored(client):
    response = client.get("/api/ready", HTTP_X_AMZN_TRACE_ID=TRACE_HEADER, **alb_headers())
    assert GENERATED.match(response["X-Request-Id"])


def test_trace_id_with_a_wrong_secret_is_ignored(client, through_edge):
    headers = {**edge_headers(), "HTTP_X_ORIGIN_VERIFY": "guess"}
    response = client.get("/api/ready", HTTP_X_AMZN_TRACE_ID=TRACE_HEADER, **headers)
    assert response.status_code == 403
    assert GENERATED.match(response["X-Request-Id"])


def test_trace_root_is_the_id_behind_the_edge(client, through_edge):
    cover(f"{VIEWER_IP}/32")
    response = client.get("/api/ready", HTTP_X_AMZN_TRACE_ID=TRACE_HEADER, **edge_headers())
    assert response["X-Request-Id"] == TRACE_ROOT


@pytest.mark.parametrize("header", ["Root=1-zz-1", "Root=" + "1-" + "a" * 200, "x" * 50])
def test_malformed_trace_id_behind_the_edge_gets_a_fresh_id(client, through_edge, header):
    cover(f"{VIEWER_IP}/32")
    response = client.get("/api/ready", HTTP_X_AMZN_TRACE_ID=header, **edge_headers())
    assert GENERATED.match(response["X-Request-Id"])


def test_the_audit_event_carries_the_request_id(make_client, through_edge, waf):
    cover(f"{VIEWER_IP}/32")
    client = make_client("editor")
    response = client.post(
        "/api/networks",
        {"cidr": "62.30.9.0/24", "label": "Branch"},
        content_type="application/json",
        HTTP_X_AMZN_TRACE_ID=TRACE_HEADER,
        **edge_headers(),
    )
    assert response.status_code == 201, response.content
    assert response["X-Request-Id"] == TRACE_ROOT
    event = AuditEvent.objects.get(action="network.allow", subject="62.30.9.0/24")
    assert event.request_id == TRACE_ROOT
    # The sync that request started is audited under the same id.
    assert AuditEvent.objects.filter(action="sync.apply", request_id=TRACE_ROOT).exists()


def test_command_line_events_have_no_request_id(waf):
    from django.core.management import call_command

    call_command("allow_ip", "62.30.10.0/24", "--label", "cli", stdout=io.StringIO())
    assert AuditEvent.objects.get(subject="62.30.10.0/24").request_id == ""


# --- JSON log lines ----------------------------------------------------------------------


@pytest.fixture
def json_log():
    """The root logger as GATEHOUSE_LOG_FORMAT=json configures it, writing to a buffer."""
    config = logging_config(log_format="json", level="INFO")
    handler = logging.StreamHandler(io.StringIO())
    formatter_config = dict(config["formatters"]["default"])
    handler.setFormatter(formatter_config.pop("()")(**formatter_config))
    handler.addFilter(config["filters"]["request_id"]["()"]())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in handler.stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_json_log_lines_carry_the_request_id(client, json_log):
    set_state(4, "failed", synced_ago=timedelta(seconds=5))
    set_state(6, "in_sync", synced_ago=timedelta(seconds=5))
    response = ready(client)
    request_id = response["X-Request-Id"]
    lines = json_log()
    mine = [line for line in lines if line["request_id"] == request_id]
    # The view's own line (inside the request) and Django's 503 line (written after the
    # middleware returned, from the request on the record).
    assert {line["logger"] for line in mine} >= {"api.views.ops", "django.request"}
    line = next(line for line in mine if line["logger"] == "api.views.ops")
    assert line["level"] == "WARNING"
    assert line["message"] == "not ready: sync_failed"
    assert set(line) >= {"time", "level", "logger", "message", "request_id"}
    assert "request" not in line


def test_log_lines_outside_a_request_have_an_empty_request_id(json_log):
    logging.getLogger("accesscontrol.test").warning("hello %s", "there", extra={"n": 3})
    [line] = [x for x in json_log() if x["logger"] == "accesscontrol.test"]
    assert line["message"] == "hello there" and line["n"] == 3 and line["request_id"] == ""


def test_unknown_log_format_is_refused():
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "adminsite.settings",
            "DJANGO_DEBUG": "true",
            "GATEHOUSE_LOG_FORMAT": "xml",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "GATEHOUSE_LOG_FORMAT must be 'plain' or 'json'" in result.stderr
