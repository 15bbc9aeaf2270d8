"""The seed's requests answered by the real server: gunicorn with gunicorn.conf.py."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory):
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DJANGO_ALLOWED_HOSTS": "admin.example.com",
        "GATEHOUSE_ORIGIN_SECRETS": "",  # direct mode: these requests come straight
        "GATEHOUSE_CLIENT_IP_SOURCE": "direct",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('db') / 'db.sqlite3'}",
        "HOME": str(tmp_path_factory.mktemp("home")),
    }
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=20)
    # gunicorn must not have opened a control socket under HOME.
    assert not (Path(env["HOME"]) / ".gunicorn").exists()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    base = {"Host": "admin.example.com", "X-Forwarded-Proto": "https"}
    conn.request(method, path, body=body, headers={**base, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def test_seed_requests_under_gunicorn(gunicorn_port):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert request(gunicorn_port, "GET", "/") == (200, b'{"message":"This is index"}\n')
    assert request(gunicorn_port, "GET", "/api/test1") == (
        200,
        b'{"message":"This is /api/test1"}\n',
    )
    assert request(gunicorn_port, "POST", "/api/test1", "name=Grace", form) == (
        200,
        b'{"message":"Hello Grace. This is /api/test1"}\n',
    )
    assert request(gunicorn_port, "GET", "/api/health") == (
        200,
        b'{"message":"This is /api/health"}\n',
    )


def test_health_with_target_ip_host_under_gunicorn(gunicorn_port):
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn_port, timeout=10)
    conn.request("GET", "/api/health", headers={"Host": "10.0.1.23:8000"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.read() == b'{"message":"This is /api/health"}\n'


def test_gunicorn_refuses_to_serve_production_without_origin_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        WEB_CONCURRENCY="1",
        DJANGO_SECRET_KEY="k" * 60,
        DJANGO_ALLOWED_HOSTS="admin.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        HOME=str(tmp_path),
    )
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "gatehouse.E001" in proc.stdout + proc.stderr
    assert "GATEHOUSE_ORIGIN_SECRETS" in proc.stdout + proc.stderr
