"""End to end through the local stack (`manage.py runlocal`, what `make run` starts):
the real provisioning into moto's server, the local CloudFront + WAF edge, Django in
`cloudfront` mode. Nothing of ours is mocked; the WAF sets are read back with boto3."""

from __future__ import annotations

import datetime
import http.cookiejar
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
EDGE = "gatehouse-local"
PASSWORD = "local-stack-test-pw"  # noqa: S105

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_env(tmp: Path, aws_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    env.update(
        DJANGO_DEBUG="true",
        GATEHOUSE_ALLOW_PRIVATE_RANGES="true",
        GATEHOUSE_EDGE_NAME=EDGE,
        GATEHOUSE_CLIENT_IP_SOURCE="cloudfront",
        GATEHOUSE_ADMIN_PASSWORD=PASSWORD,
        # The break-glass command run against the stack checks its AWS requests too.
        GATEHOUSE_AWS_CONFORMANCE="1",
        DATABASE_URL=f"sqlite:///{tmp / 'local.sqlite3'}",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{aws_port}",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_REGION="us-east-1",
    )
    env.pop("AWS_SESSION_TOKEN", None)
    if os.environ.get("GATEHOUSE_AWS_CONFORMANCE_REPORT"):  # set by tests/conftest.py
        env["GATEHOUSE_AWS_CONFORMANCE_REPORT"] = os.environ["GATEHOUSE_AWS_CONFORMANCE_REPORT"]
    return env


def start_runlocal(tmp: Path, env: dict, ports: dict, log_name: str, *extra: str):
    """runlocal in a subprocess, up when its banner is printed; returns (process, log)."""
    log_path = tmp / log_name
    log = open(log_path, "w+")  # noqa: SIM115 - closed by the caller's stop_runlocal
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "runlocal",
            f"--port={ports['edge']}",
            f"--aws-port={ports['aws']}",
            f"--origin-port={ports['origin']}",
            f"--oidc-port={ports.get('oidc') or free_port()}",
            f"--oidc-dir={tmp / 'dev-oidc'}",
            f"--env-file={tmp / 'local.env'}",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while "Press Ctrl-C to stop." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("runlocal did not come up:\n" + log_path.read_text())
        time.sleep(0.2)
    return proc, log


def stop_runlocal(proc, log) -> int:
    """SIGTERM, as systemd or `kill` would send."""
    proc.terminate()
    try:
        return proc.wait(timeout=30)
    finally:
        log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("localstack")
    ports = {"edge": free_port(), "aws": free_port(), "origin": free_port(), "oidc": free_port()}
    env = local_env(tmp, ports["aws"])
    # The scheduled sync runs every 2 s here (every minute by default).
    proc, log = start_runlocal(tmp, env, ports, "runlocal.log", "--sync-interval=2")
    yield {"ports": ports, "env": env, "log": tmp / "runlocal.log", "tmp": tmp}
    returncode = stop_runlocal(proc, log)
    text = (tmp / "runlocal.log").read_text()
    assert returncode == 0, text
    assert "Stopped." in text
    assert not (tmp / "local.env").exists()


class Browser:
    """A cookie-keeping HTTP client that talks to the local edge like the console does."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if method not in ("GET", "HEAD"):
            request.add_header("X-CSRFToken", self.csrf())
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def login(self) -> None:
        assert self.call("GET", "/api/auth/session")[0] == 200
        status, body = self.call(
            "POST", "/api/auth/login", {"username": "admin", "password": PASSWORD}
        )
        assert status == 200, body


def waf_addresses(aws_port: int) -> dict[str, set[str]]:
    waf = boto3.client(
        "wafv2",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{aws_port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    found = {}
    for summary in waf.list_ip_sets(Scope="CLOUDFRONT")["IPSets"]:
        ip_set = waf.get_ip_set(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])
        found[summary["Name"]] = set(ip_set["IPSet"]["Addresses"])
    return found


def eventually(check, timeout: float = 5.0):
    """The edge re-reads the web ACL at most once a second."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_console_and_seed_routes_through_the_edge(stack):
    browser = Browser(stack["ports"]["edge"])
    status, body = browser.call("GET", "/")
    assert status == 200 and b"<html" in body.lower()
    assert browser.call("GET", "/api/test1") == (200, b'{"message":"This is /api/test1"}\n')
    # Not an /api/* path: the S3 behaviour answers, never Django.
    assert browser.call("GET", "/v1/test1")[0] == 404


def test_networks_added_and_removed_over_http_land_in_waf(stack):
    browser = Browser(stack["ports"]["edge"])
    browser.login()
    status, body = browser.call(
        "POST", "/api/networks", {"cidr": "198.18.7.0/24", "label": "branch office"}
    )
    assert status == 201, body
    created = json.loads(body)
    assert created["sync"]["status"] == "applied"
    sets = waf_addresses(stack["ports"]["aws"])
    assert sets[f"{EDGE}-office-v4"] == {"127.0.0.1/32", "198.18.7.0/24"}
    assert sets[f"{EDGE}-office-v6"] == {"::1/128"}

    status, _ = browser.call("DELETE", f"/api/networks/{created['id']}")
    assert status == 204
    assert waf_addresses(stack["ports"]["aws"])[f"{EDGE}-office-v4"] == {"127.0.0.1/32"}


def test_revoking_own_address_blocks_then_allow_ip_recovers(stack):
    browser = Browser(stack["ports"]["edge"])
    browser.login()
    status, body = browser.call("GET", "/api/networks?search=127.0.0.1")
    own = json.loads(body)["results"][0]
    # Alone in the IPv4 set, it cannot go: that set would be empty.
    status, body = browser.call("DELETE", f"/api/networks/{own['id']}?confirm=true")
    assert (status, json.loads(body)["error"]["rule"]) == (409, "last_of_version")
    status, body = browser.call(
        "POST", "/api/networks", {"cidr": "198.18.9.0/24", "label": "another office"}
    )
    assert status == 201, body
    # Another IPv4 network stays, so the set is not empty, but this viewer (127.0.0.1)
    # loses access.
    status, body = browser.call("DELETE", f"/api/networks/{own['id']}")
    assert status == 409
    assert json.loads(body)["error"]["code"] == "self_lockout"
    status, _ = browser.call("DELETE", f"/api/networks/{own['id']}?confirm=true")
    assert status == 204

    def blocked():
        status, body = browser.call("GET", "/api/me")
        return status == 403 and b"not on the allowlist" in body

    assert eventually(blocked), "the edge still lets 127.0.0.1 in"

    # Break-glass from another terminal: only AWS credentials and the database.
    recovery = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "allow_ip", "127.0.0.1", "--label", "recovery"],
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert recovery.returncode == 0, recovery.stdout + recovery.stderr
    assert eventually(lambda: browser.call("GET", "/api/me")[0] == 200)


def test_request_straight_to_django_is_refused_without_origin_secret(stack):
    direct = Browser(stack["ports"]["origin"])
    status, body = direct.call("GET", "/api/auth/session")
    assert status == 403
    assert json.loads(body)["error"]["code"] == "origin_forbidden"
    # The ALB's health check still gets through.
    assert direct.call("GET", "/api/health")[0] == 200


def test_viewer_headers_from_the_client_are_not_trusted(stack):
    browser = Browser(stack["ports"]["edge"])
    request = urllib.request.Request(  # noqa: S310
        browser.base + "/api/auth/session",
        headers={
            "CloudFront-Viewer-Address": "8.8.8.8:1234",
            "X-Forwarded-For": "8.8.8.8",
            "X-Origin-Verify": "guess",
        },
    )
    with browser.opener.open(request, timeout=10) as response:
        assert json.loads(response.read())["viewer_ip"] == "127.0.0.1"


def verify_command(stack) -> list[str]:
    """The --verify line the banner prints, as it prints it."""
    [line] = [
        line.strip()
        for line in stack["log"].read_text().splitlines()
        if "provision_infra" in line and "--verify" in line
    ]
    # make manage ARGS='provision_infra --config ... --verify ...' = manage.py with those args
    args = line.split("ARGS='", 1)[1].rstrip("'")
    return [sys.executable, "manage.py", *args.split()]


def run_verify(stack) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        verify_command(stack),
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_from_the_banner_passes_against_the_running_stack(stack):
    result = run_verify(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        line.split("  ")[0]: line
        for line in result.stdout.splitlines()
        if line.split("  ")[0] and "  ok  " in line
    }
    assert set(rows) == {
        "distribution deployed with the web ACL",
        "security group admits only CloudFront",
        "ALB rule accepts the distribution's secret",
        "health answers 200 through the edge",
        "origin refuses requests without the secret",
        "WAF IP sets equal the database",
    }
    assert "All 6 checks passed." in result.stdout
    cloudfront = boto3.client(
        "cloudfront",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{stack['ports']['aws']}",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    [dist] = cloudfront.list_distributions()["DistributionList"]["Items"]
    origins = cloudfront.get_distribution_config(Id=dist["Id"])["DistributionConfig"]["Origins"]
    headers = [h for o in origins["Items"] for h in (o.get("CustomHeaders") or {}).get("Items", [])]
    assert headers and all(h["HeaderValue"] not in result.stdout for h in headers)


def test_verify_fails_and_says_why_when_the_edge_drifts(stack):
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{stack['ports']['aws']}",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    [group] = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{EDGE}-alb"]}]
    )["SecurityGroups"]
    wide = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=wide)
    try:
        result = run_verify(stack)
    finally:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=wide)
    assert result.returncode != 0
    [row] = [r for r in result.stdout.splitlines() if r.startswith("security group admits")]
    assert "FAIL" in row and "also admits tcp 22-22 from 0.0.0.0/0" in row
    assert "1 of 6 checks failed: security group admits only CloudFront" in result.stderr


def test_single_sign_on_with_the_development_provider_through_the_edge(stack):
    """The banner's demo user signs in with the development OpenID provider that runlocal
    started, through the local edge (the callback is /api/*: origin secret, allowlist)."""
    import requests

    from tests.devidp import sign_in_at_provider

    banner = stack["log"].read_text()
    assert "single sign-on:  'Sign in with Dev IdP'" in banner
    assert "alice    alice@example.com    gatehouse-editors  -> editor" in banner
    edge = f"http://127.0.0.1:{stack['ports']['edge']}"
    http = requests.Session()
    offered = http.get(f"{edge}/api/auth/session", timeout=30).json()["sign_in"]
    assert offered == {
        "password": "on",
        "sso": {"provider_name": "Dev IdP", "start_url": "/api/auth/oidc/start"},
    }
    start = http.get(f"{edge}/api/auth/oidc/start", allow_redirects=False, timeout=30)
    assert start.headers["Location"].startswith(f"http://127.0.0.1:{stack['ports']['oidc']}/o/")
    callback = sign_in_at_provider(start.headers["Location"], "bob")
    assert callback.startswith(f"{edge}/api/auth/oidc/callback?")
    assert http.get(callback, allow_redirects=False, timeout=30).headers["Location"] == "/"
    user = http.get(f"{edge}/api/auth/session", timeout=30).json()["user"]
    assert user["username"] == "bob@example.com" and user["role"] == "viewer"


def test_production_wsgi_app_never_imports_the_local_stack_or_moto():
    # ... nor the development OpenID provider (deploy.localstack.oidc_provider and
    # django-oauth-toolkit, a dev dependency).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    env.update(
        DJANGO_SECRET_KEY="k" * 60,
        DJANGO_ALLOWED_HOSTS="admin.example.com",
        GATEHOUSE_ORIGIN_SECRETS="s3cret",  # production refuses to start without it
    )
    probe = (
        "import sys, adminsite.wsgi; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'werkzeug', "
        "'cryptography', 'oauth2_provider') or m.startswith('deploy.localstack')))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- a newcomer's trial (issue 14) ---------------------------------------------------------


def test_scheduled_sync_expires_temporary_entries(stack):
    browser = Browser(stack["ports"]["edge"])
    browser.login()
    status, body = browser.call(
        "POST", "/api/networks", {"cidr": "198.18.11.0/24", "label": "contractor"}
    )
    assert status == 201, body
    network = json.loads(body)
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)).isoformat()
    status, body = browser.call("PATCH", f"/api/networks/{network['id']}", {"expires_at": soon})
    assert status == 200, body
    assert "198.18.11.0/24" in waf_addresses(stack["ports"]["aws"])[f"{EDGE}-office-v4"]

    def removed():
        return "198.18.11.0/24" not in waf_addresses(stack["ports"]["aws"])[f"{EDGE}-office-v4"]

    assert eventually(removed, timeout=15), "the expired entry is still in WAF"
    status, body = browser.call("GET", "/api/sync")
    assert json.loads(body)["in_sync"] is True
    status, body = browser.call("GET", "/api/audit?action=network.expire")
    assert [e["subject"] for e in json.loads(body)["results"]] == ["198.18.11.0/24"]


def test_real_drift_still_warns(stack):
    waf = boto3.client(
        "wafv2",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{stack['ports']['aws']}",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    summary = next(
        s
        for s in waf.list_ip_sets(Scope="CLOUDFRONT")["IPSets"]
        if s["Name"] == f"{EDGE}-office-v6"
    )
    token = waf.get_ip_set(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["LockToken"]
    waf.update_ip_set(
        Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"], Addresses=[], LockToken=token
    )
    assert eventually(
        lambda: "removed outside Gatehouse; restored" in stack["log"].read_text(), timeout=15
    ), stack["log"].read_text()
    assert eventually(lambda: waf_addresses(stack["ports"]["aws"])[summary["Name"]] == {"::1/128"})


def test_commands_from_another_terminal_reach_the_stack_through_make_manage(stack):
    # A fresh terminal: none of the stack's settings, maybe a real AWS profile.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "GATEHOUSE_", "AWS_", "DATABASE_"))
    }
    env["AWS_PROFILE"] = "someones-real-account"
    result = subprocess.run(  # noqa: S603
        [
            "make",
            "--no-print-directory",
            "manage",
            f"LOCAL_ENV_FILE={stack['tmp'] / 'local.env'}",
            "ARGS=sync_waf --dry-run",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{EDGE}-office-v4: in_sync" in result.stdout


def test_one_log_line_per_api_request_and_none_for_static_files(stack):
    browser = Browser(stack["ports"]["edge"])
    assert browser.call("GET", "/api/networks?marker=one-line")[0] == 401
    assert browser.call("GET", "/app.js")[0] == 200
    time.sleep(0.5)
    text = stack["log"].read_text()
    assert len([line for line in text.splitlines() if "marker=one-line" in line]) == 1, text
    assert "Unauthorized: /api/networks" not in text
    assert "/app.js" not in text


def _audit_rows(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as db:
        return list(db.execute("select action, coalesce(after, '') from accesscontrol_auditevent"))


def test_a_normal_restart_is_quiet_and_records_no_drift(tmp_path):
    ports = {"edge": free_port(), "aws": free_port(), "origin": free_port()}
    env = local_env(tmp_path, ports["aws"])
    proc, log = start_runlocal(tmp_path, env, ports, "first.log")
    assert stop_runlocal(proc, log) == 0
    events_before = len(_audit_rows(tmp_path / "local.sqlite3"))

    proc, log = start_runlocal(tmp_path, env, ports, "second.log")
    try:
        text = (tmp_path / "second.log").read_text()
        assert "WARNING" not in text and "removed outside" not in text, text
        rows = _audit_rows(tmp_path / "local.sqlite3")[events_before:]
        assert all(action != "network.adopt" for action, _ in rows), rows
        assert all(
            json.loads(after or "{}").get("removed_outside") in (None, []) for _, after in rows
        )
        with sqlite3.connect(tmp_path / "local.sqlite3") as db:
            drift = [row[0] for row in db.execute("select drift from accesscontrol_ipsetsyncstate")]
        assert drift == ["{}", "{}"]
    finally:
        assert stop_runlocal(proc, log) == 0


def test_a_taken_port_is_named_before_anything_is_provisioned(tmp_path):
    ports = {"edge": free_port(), "aws": free_port(), "origin": free_port()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["origin"]))
        taken.listen()
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "manage.py",
                "runlocal",
                f"--port={ports['edge']}",
                f"--aws-port={ports['aws']}",
                f"--origin-port={ports['origin']}",
                f"--oidc-port={free_port()}",
                f"--env-file={tmp_path / 'local.env'}",
            ],
            cwd=ROOT,
            env=local_env(tmp_path, ports["aws"]),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {ports['origin']} (the origin) is already in use" in result.stderr
    assert "GATEHOUSE_LOCAL_ORIGIN_PORT" in result.stderr
    assert str(ports["edge"]) not in result.stderr
    assert time.monotonic() - started < 8  # not after provisioning
    assert not (tmp_path / "local.sqlite3").exists()  # not even migrated
