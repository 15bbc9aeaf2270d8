"""The reliability suite's harness: the real processes (PostgreSQL, moto's server with a
fault window from moto_faults.py, gunicorn with 4 workers in production mode: origin
secret, HTTPS via X-Forwarded-Proto, viewer from CloudFront-Viewer-Address), an HTTP
client that talks to gunicorn as the ALB would, and the helpers the scenarios share
(bursts of changes, the audit trail's expected events, latency figures).

Everything runs on loopback with ephemeral ports. Each process runs in its own process
group; `Stack.stop()` ends the groups, so nothing outlives the session. The scenarios
(test_<n>_*.py, one file each) share one running system (conftest.py) and run in file
order; each works on its own address range (45.<scenario>.x.x) and checks the invariants
that must hold after it: the WAF sets equal the active networks, and the audit trail has
exactly one event per change.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import boto3
import psycopg

from tests.conftest import office_web_acl

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SOAK = bool(os.environ.get("GATEHOUSE_SOAK"))
SHORT = bool(os.environ.get("GATEHOUSE_SOAK_SHORT"))
DATABASE_URL = os.environ.get(
    "GATEHOUSE_SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gatehouse_soak"
)
EDGE = "soak"
ORIGIN_SECRET = "soak-origin-secret-0123456789"
PASSWORD = "soak-suite-password-42"
OFFICE = "81.2.69.0/24"
VIEWER_IP = "81.2.69.142"  # the admins' office address, as CloudFront reports it
WORKERS = 4
N_EDITORS = 20 if SHORT else 50  # signed-in editor sessions
THREADS = 8  # client threads of a burst
N_LOAD = 20 if SHORT else 50  # networks a load burst adds


# -- figures ----------------------------------------------------------------------------

FIGURES: list[tuple[str, str, str]] = []


def record(scenario: str, **figures) -> None:
    """Keep a scenario's figures for the final table, and print them now."""
    print(f"\n[{scenario}]")
    for name, value in figures.items():
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        FIGURES.append((scenario, name.replace("_", " "), text))
        print(f"  {name.replace('_', ' '):<40} {text}")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# -- HTTP client ------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    elapsed_ms: float

    def json(self):
        return json.loads(self.body)


@dataclass
class ApiSession:
    """One browser behind the edge: talks to gunicorn as the ALB would (X-Forwarded-Proto,
    the origin secret, CloudFront-Viewer-Address), keeps its cookies itself (they are
    Secure, and this hop is plain HTTP like ALB -> target), sends the CSRF token."""

    port: int
    viewer: str = VIEWER_IP
    secret: str | None = ORIGIN_SECRET
    extra: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    username: str = ""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def headers(self, method: str, *, csrf: bool = True) -> dict[str, str]:
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "User-Agent": "gatehouse-soak/1.0",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if self.secret is not None:
            headers["X-Origin-Verify"] = self.secret
            headers["CloudFront-Viewer-Address"] = f"{self.viewer}:41234"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Origin"] = f"https://{self.host}"
        headers.update(self.extra)
        return headers

    def call(
        self,
        method: str,
        path: str,
        body=None,
        *,
        csrf: bool = True,
        headers: dict | None = None,
        timeout: float = 60,
    ) -> Reply:
        sent = self.headers(method, csrf=csrf)
        sent.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.status, payload, dict(response.getheaders()), elapsed)

    def login(self, username: str, password: str = PASSWORD) -> Reply:
        self.call("GET", "/api/auth/session")
        reply = self.call("POST", "/api/auth/login", {"username": username, "password": password})
        if reply.status == 200:
            self.username = username
        return reply


# -- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """End a process group we started (SIGTERM, then SIGKILL)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # workers left by a master that died first
        os.killpg(proc.pid, signal.SIGKILL)


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


SETUP_USERS = """
import os
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
User = get_user_model()
hashed = make_password(os.environ["SOAK_PASSWORD"])
editors = [f"editor{i:02d}" for i in range(int(os.environ["SOAK_EDITORS"]))]
names = ["viewer", "editor", "nobody", "target", *editors]
User.objects.bulk_create([User(username=n, password=hashed) for n in names])
User.objects.create_superuser("root", "root@example.com", os.environ["SOAK_PASSWORD"])
editor, viewer = Group.objects.get(name="editor"), Group.objects.get(name="viewer")
for user in User.objects.filter(username__in=["editor", *editors]):
    user.groups.add(editor)
for user in User.objects.filter(username__in=["viewer", "target"]):
    user.groups.add(viewer)
"""


class Stack:
    """The running system and the handles a scenario needs."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        self.port = free_port()
        self.env: dict[str, str] = {}
        self.gunicorn: subprocess.Popen | None = None

    # processes
    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        proc = subprocess.Popen(  # noqa: S603
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        recreate_database(DATABASE_URL)
        ready = self.tmp / "moto.json"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AWS_"))}
        base_env = {k: v for k, v in base_env.items() if not k.startswith("GATEHOUSE_")}
        moto = self.spawn(
            "moto",
            [sys.executable, str(HERE / "moto_faults.py"), "--ready-file", str(ready)],
            base_env,
        )
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text()):
            if moto.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_faults did not start: " + self.log_tail("moto"))
            time.sleep(0.1)
        ports = json.loads(ready.read_text())
        self.aws_port, self.control_port = ports["aws_port"], ports["control_port"]
        self.waf = boto3.client(
            "wafv2",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{self.aws_port}",
            aws_access_key_id="soak",
            aws_secret_access_key="soak",
        )
        self.ip_set_ids = {}
        arns = {}
        for version in (4, 6):
            summary = self.waf.create_ip_set(
                Name=self.set_name(version),
                Scope="CLOUDFRONT",
                IPAddressVersion=f"IPV{version}",
                Addresses=[],
                Description="office allowlist, soak",
            )["Summary"]
            self.ip_set_ids[version] = summary["Id"]
            arns[version] = summary["ARN"]
        # The web ACL, as provisioning shapes it (GET /api/blocked reads its samples).
        self.waf.create_web_acl(**office_web_acl(EDGE, list(arns.values())))

        self.env = {
            **base_env,
            "DJANGO_SECRET_KEY": "soak-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": DATABASE_URL,
            "GATEHOUSE_EDGE_NAME": EDGE,
            "GATEHOUSE_ORIGIN_SECRETS": ORIGIN_SECRET,
            "GATEHOUSE_CLIENT_IP_SOURCE": "cloudfront",
            # The editors here sign in with passwords: the second factor has its own tests
            # (tests/api/test_second_factor.py, tests/frontend/test_second_factor.py).
            "GATEHOUSE_REQUIRE_MFA": "off",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.aws_port}",
            "AWS_ACCESS_KEY_ID": "soak",
            "AWS_SECRET_ACCESS_KEY": "soak",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(WORKERS),
            "GUNICORN_LOG_LEVEL": "warning",
            # Workers and manage.py check every AWS request against botocore's models;
            # the session reports what they checked and fails on a violation.
            "GATEHOUSE_AWS_CONFORMANCE": "1",
            "GATEHOUSE_AWS_CONFORMANCE_REPORT": os.environ.get(
                "GATEHOUSE_AWS_CONFORMANCE_REPORT", ""
            ),
        }
        self.manage("migrate", "--noinput", timeout=180)
        self.manage(
            "shell",
            "-c",
            SETUP_USERS,
            extra_env={"SOAK_PASSWORD": PASSWORD, "SOAK_EDITORS": str(N_EDITORS)},
        )
        self.manage("allow_ip", OFFICE, "--label", "Office")
        self.manage("sync_waf")  # both sets: the IPv6 one has never been synced
        self.gunicorn = self.spawn(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
            self.env,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ApiSession(self.port, secret=None).call("GET", "/api/health").status == 200:
                    return
            except OSError:
                pass
            if self.gunicorn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not come up: " + self.log_tail("gunicorn"))
            time.sleep(0.2)

    def workers(self) -> list[int]:
        """gunicorn's worker pids (children of the master)."""
        pid = self.gunicorn.pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]

    def wait_workers(self, count: int = WORKERS, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.workers()) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        self.wait_healthy()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_group(proc)
        for log in self.logs:
            log.close()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.tmp / f"{name}.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""

    # manage.py, with the server's settings
    def manage(
        self, *args: str, extra_env: dict | None = None, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {args[0]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    # the database, read directly
    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(DATABASE_URL) as conn:
            return conn.execute(query, params).fetchall()

    def active_cidrs(self, version: int) -> set[str]:
        rows = self.sql(
            "SELECT cidr FROM accesscontrol_allowednetwork WHERE ip_version = %s "
            "AND (expires_at IS NULL OR expires_at > now())",
            (version,),
        )
        return {r[0] for r in rows}

    def max_audit_id(self) -> int:
        return self.sql("SELECT coalesce(max(id), 0) FROM accesscontrol_auditevent")[0][0]

    def audit_since(self, marker: int) -> list[tuple[str, str]]:
        """(action, subject) of every audit event after `marker`, in order."""
        return [
            (a, s)
            for a, s in self.sql(
                "SELECT action, subject FROM accesscontrol_auditevent WHERE id > %s ORDER BY id",
                (marker,),
            )
        ]

    # the AWS stand-in
    def set_name(self, version: int) -> str:
        return f"{EDGE}-office-v{version}"

    def waf_addresses(self, version: int) -> set[str]:
        ip_set = self.waf.get_ip_set(
            Name=self.set_name(version), Scope="CLOUDFRONT", Id=self.ip_set_ids[version]
        )
        return set(ip_set["IPSet"]["Addresses"])

    def control(self, faults: dict | None = None) -> dict:
        url = f"http://127.0.0.1:{self.control_port}/" + ("faults" if faults is not None else "")
        data = json.dumps(faults).encode() if faults is not None else None
        request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def waf_counts(self) -> dict[str, int]:
        state = self.control()
        counts = {k: v for k, v in state["calls"].items()}
        counts.update({f"write:{k}": v for k, v in state["writes"].items()})
        counts.update({f"injected:{k}": v for k, v in state["injected"].items()})
        counts.update({f"conflict:{k}": v for k, v in state.get("conflicts", {}).items()})
        return counts

    def assert_db_matches_waf(self) -> dict[int, int]:
        sizes = {}
        for version in (4, 6):
            db, waf = self.active_cidrs(version), self.waf_addresses(version)
            assert db == waf, (
                f"IPv{version}: only in DB {sorted(db - waf)[:20]}, "
                f"only in WAF {sorted(waf - db)[:20]}"
            )
            sizes[version] = len(db)
        return sizes


# -- changes over HTTP, and what they must leave behind ----------------------------------


@dataclass
class Outcome:
    kind: str  # "allow" | "revoke"
    cidr: str
    status: int | None  # None: no answer (connection dropped)
    elapsed_ms: float
    body: dict | None = None
    error: str = ""


def attempt(session: ApiSession, kind: str, cidr: str, method: str, path: str, body=None):
    started = time.perf_counter()
    try:
        reply = session.call(method, path, body)
    except OSError as exc:  # includes http.client's RemoteDisconnected
        return Outcome(kind, cidr, None, (time.perf_counter() - started) * 1000, error=repr(exc))
    data = reply.json() if reply.body else None
    return Outcome(kind, cidr, reply.status, reply.elapsed_ms, data)


def allow(session: ApiSession, cidr: str, label: str = "soak") -> Outcome:
    return attempt(session, "allow", cidr, "POST", "/api/networks", {"cidr": cidr, "label": label})


def revoke(session: ApiSession, cidr: str, network_id: int) -> Outcome:
    return attempt(session, "revoke", cidr, "DELETE", f"/api/networks/{network_id}")


# WAF's real latency, injected into the stand-in (moto_faults.py) while a load burst runs:
# group commit only shows when a round takes as long as it does in AWS.
WAF_LATENCY = {"delay": 0.150, "read_delay": 0.050}


def burst(
    sessions: list[ApiSession], cidrs: list[str], label: str, *, threads: int = THREADS
) -> list[Outcome]:
    """Each cidr added by its own session, `threads` at a time."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [
            pool.submit(allow, sessions[i % len(sessions)], cidr, label)
            for i, cidr in enumerate(cidrs)
        ]
        return [f.result(timeout=300) for f in futures]


def expected_audit(outcomes: list[Outcome]) -> Counter:
    """The network events the answered changes must have left: one each."""
    events = Counter()
    for o in outcomes:
        if o.kind == "allow" and o.status == 201:
            events["network.allow", o.cidr] += 1
        elif o.kind == "revoke" and o.status == 204:
            events["network.revoke", o.cidr] += 1
    return events


def network_events(stack, marker: int, prefix: str) -> Counter:
    return Counter(
        (action, subject)
        for action, subject in stack.audit_since(marker)
        if action.startswith("network.") and subject.startswith(prefix)
    )


def latency(outcomes: list[Outcome]) -> dict:
    times = [o.elapsed_ms for o in outcomes if o.status is not None]
    return {
        "latency_p50_ms": percentile(times, 50),
        "latency_p99_ms": percentile(times, 99),
        "latency_max_ms": max(times, default=0.0),
    }


def server_errors(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status is None or o.status >= 500]


def writes(stack, version: int = 4) -> int:
    return stack.waf_counts().get(f"write:{stack.set_name(version)}", 0)
