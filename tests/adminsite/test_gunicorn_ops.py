"""gunicorn with the operations switches on (issue 17): GATEHOUSE_METRICS_BIND opens a
second listener that serves only /metrics, adding up every worker's counters
(prometheus-client's multiprocess mode), and GATEHOUSE_LOG_FORMAT=json makes the access
log one JSON object per line carrying the request's X-Request-Id."""

import http.client
import json
import os
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.adminsite.test_gunicorn import ROOT, free_port

pytestmark = pytest.mark.e2e

REQUESTS = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, metrics_port = free_port(), free_port()
    home = tmp_path_factory.mktemp("home")
    log_path = home / "access.log"
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "GATEHOUSE_LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "2",
        "DJANGO_ALLOWED_HOSTS": "admin.example.com",
        "GATEHOUSE_ORIGIN_SECRETS": "",
        "GATEHOUSE_CLIENT_IP_SOURCE": "direct",
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "HOME": str(home),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.PIPE,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            assert get(metrics_port, "/metrics")[0] == 200
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
    yield port, metrics_port, log_path
    proc.terminate()
    proc.wait(timeout=20)


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": "admin.example.com", "X-Forwarded-Proto": "https"}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode(), dict(response.getheaders())


def test_metrics_add_up_every_workers_requests(server):
    port, metrics_port, _ = server
    for _ in range(REQUESTS):
        # A new connection each time: gunicorn's workers take turns accepting them.
        assert get(port, "/api/test1")[0] == 200
    status, body, _ = get(metrics_port, "/metrics")
    assert status == 200
    counts = [
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "gatehouse_http_request_duration_seconds_count"
        and s.labels.get("route") == "test1"
    ]
    assert sum(counts) == REQUESTS
    # The metrics port serves nothing else; the main port serves no metrics.
    assert get(metrics_port, "/api/test1")[0] == 404
    assert "gatehouse_" not in get(port, "/metrics")[1]


def test_access_log_lines_are_json_with_the_request_id(server):
    port, _, log_path = server
    _, _, headers = get(port, "/api/test1?x=1")
    request_id = headers["X-Request-Id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line]
        mine = [line for line in lines if line.get("request_id") == request_id]
        if mine:
            break
        time.sleep(0.05)
    [line] = mine
    assert line["logger"] == "gunicorn.access"
    assert line["method"] == "GET" and line["path"] == "/api/test1" and line["query"] == "x=1"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int)
