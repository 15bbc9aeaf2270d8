"""Prometheus metrics: served only on the metrics listener (api.wsgi.with_metrics), with
the database's gauges and this process's counters (WAF calls and errors at the gateway,
syncs by result, request latency)."""

import io
from datetime import timedelta

import pytest
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from moto.core.exceptions import JsonRESTError
from moto.wafv2.models import WAFV2Backend
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accesscontrol.models import AllowedNetwork, IpSetSyncState
from accesscontrol.services import Requester, sync_waf_ip_sets
from accesscontrol.waf import WafIpSetGateway
from api.wsgi import metrics_port, with_health_check, with_metrics
from tests.api.conftest import alb_headers

pytestmark = pytest.mark.django_db(transaction=True)

PORT = "9464"


@pytest.fixture(scope="module")
def app():
    return with_metrics(with_health_check(get_wsgi_application()), port=PORT)


def call(app, path, *, port=PORT, method="GET"):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "10.0.1.23",
        "SERVER_PORT": port,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "10.0.1.23",
    }
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body.decode()


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_port_from_bind():
    assert metrics_port("0.0.0.0:9464") == "9464"
    assert metrics_port("[::]:9100") == "9100"
    assert metrics_port("") == ""


def test_metrics_list_networks_sync_state_and_age(app):
    now = timezone.now()
    AllowedNetwork.objects.create(cidr="62.30.1.0/24", ip_version=4, label="a")
    AllowedNetwork.objects.create(cidr="62.30.2.0/24", ip_version=4, label="b")
    AllowedNetwork.objects.create(
        cidr="62.30.3.0/24", ip_version=4, label="c", expires_at=now - timedelta(hours=1)
    )
    AllowedNetwork.objects.create(cidr="2001:db8::/48", ip_version=6, label="d")
    # transaction=True (the exposition manages its own connection) flushed migration
    # 0005's rows: put both back.
    IpSetSyncState.objects.update_or_create(
        ip_version=4, defaults={"status": "in_sync", "last_synced_at": now - timedelta(seconds=120)}
    )
    IpSetSyncState.objects.update_or_create(
        ip_version=6, defaults={"status": "pending", "last_synced_at": None}
    )

    status, headers, body = call(app, "/metrics")

    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(body)
    assert got[("gatehouse_database_up", ())] == 1
    assert got[("gatehouse_networks", (("ip_version", "4"), ("status", "active")))] == 2
    assert got[("gatehouse_networks", (("ip_version", "4"), ("status", "expired")))] == 1
    assert got[("gatehouse_networks", (("ip_version", "6"), ("status", "active")))] == 1
    assert got[("gatehouse_sync_state", (("ip_version", "4"), ("status", "in_sync")))] == 1
    assert got[("gatehouse_sync_state", (("ip_version", "6"), ("status", "pending")))] == 1
    assert got[("gatehouse_sync_state", (("ip_version", "6"), ("status", "in_sync")))] == 0
    age = got[("gatehouse_seconds_since_last_sync", (("ip_version", "4"),))]
    assert 120 <= age < 180
    # Never synced: no age (an alert on "absent" catches it, a made-up number would not).
    assert ("gatehouse_seconds_since_last_sync", (("ip_version", "6"),)) not in got


def test_metrics_are_not_served_on_the_main_port(app, client):
    status, _, body = call(app, "/metrics", port="8000")
    assert status.startswith("404") or status.startswith("400")
    assert "gatehouse_" not in body
    response = client.get("/api/metrics", **alb_headers())
    assert response.status_code in (401, 403, 404)
    assert b"gatehouse_" not in response.content


@pytest.mark.parametrize(
    ("path", "method"), [("/api/networks", "GET"), ("/api/health", "GET"), ("/metrics", "POST")]
)
def test_metrics_port_serves_nothing_else(app, path, method):
    status, _, body = call(app, path, method=method)
    assert status == "404 Not Found"
    assert "gatehouse_" not in body


def test_without_a_metrics_bind_nothing_answers_metrics():
    inner = object()
    assert with_metrics(inner, port="") is inner


def test_waf_calls_and_syncs_are_counted_at_the_gateway(waf):
    reads, writes = (
        value("gatehouse_waf_calls_total", operation="get_ip_set"),
        value("gatehouse_waf_calls_total", operation="update_ip_set"),
    )
    in_sync = value("gatehouse_syncs_total", ip_version="4", result="in_sync")
    AllowedNetwork.objects.create(cidr="62.30.4.0/24", ip_version=4, label="x")

    sync_waf_ip_sets(requester=Requester(), gateway=WafIpSetGateway.from_settings())

    assert value("gatehouse_waf_calls_total", operation="get_ip_set") == reads + 2
    assert value("gatehouse_waf_calls_total", operation="update_ip_set") == writes + 1
    assert value("gatehouse_syncs_total", ip_version="4", result="in_sync") == in_sync + 1


def test_waf_errors_are_counted_by_operation_and_code(waf, monkeypatch):
    def unavailable(*args, **kwargs):
        raise JsonRESTError("WAFUnavailableEntityException", "WAF is having a bad day")

    monkeypatch.setattr(WAFV2Backend, "get_ip_set", unavailable)
    labels = {"operation": "get_ip_set", "code": "WAFUnavailableEntityException"}
    errors = value("gatehouse_waf_errors_total", **labels)
    pending = value("gatehouse_syncs_total", ip_version="6", result="pending")

    sync_waf_ip_sets(requester=Requester(), gateway=WafIpSetGateway.from_settings())

    assert value("gatehouse_waf_errors_total", **labels) == errors + 2
    assert value("gatehouse_syncs_total", ip_version="6", result="pending") == pending + 1


def test_dry_runs_are_not_counted_as_syncs(waf):
    before = value("gatehouse_syncs_total", ip_version="4", result="in_sync")
    sync_waf_ip_sets(requester=Requester(), gateway=WafIpSetGateway.from_settings(), dry_run=True)
    assert value("gatehouse_syncs_total", ip_version="4", result="in_sync") == before


def test_request_latency_is_observed_by_route_method_and_status(client):
    labels = {"route": "ready", "method": "GET", "status": "503"}
    before = value("gatehouse_http_request_duration_seconds_count", **labels)
    client.get("/api/ready", **alb_headers())
    assert value("gatehouse_http_request_duration_seconds_count", **labels) == before + 1
    other = {"route": "ready", "method": "other", "status": "405"}
    before = value("gatehouse_http_request_duration_seconds_count", **other)
    # A made-up method is one label value ("other"), not a new series per method name.
    assert client.generic("BREW", "/api/ready", **alb_headers()).status_code == 405
    assert value("gatehouse_http_request_duration_seconds_count", **other) == before + 1
    brew = {**other, "method": "BREW"}
    assert REGISTRY.get_sample_value("gatehouse_http_request_duration_seconds_count", brew) is None


def test_an_unreadable_database_is_reported_not_raised(app, monkeypatch):
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("down")

    monkeypatch.setattr(IpSetSyncState.objects, "only", refuse)
    status, _, body = call(app, "/metrics")
    assert status == "200 OK"
    assert samples(body)[("gatehouse_database_up", ())] == 0
