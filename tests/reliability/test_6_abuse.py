"""Scenario 6, abuse: roles, CSRF, brute force, spoofed viewer headers, the origin secret,
hostile bodies, over HTTP."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket

import pytest

from tests.reliability.harness import PASSWORD, VIEWER_IP, ApiSession, record

pytestmark = pytest.mark.soak


ROLES = ("anonymous", "nobody", "viewer", "editor", "root")
ATTACKER_NET_V4 = "62.30.7.0/24"
ATTACKER_NET_V6 = "2a02:c7f:5e1a::/48"
TYPED_PASSWORD = "Hunter2-typed-in-the-username-box"  # noqa: S105


def raw_call(session: ApiSession, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """Send `body` as is (not JSON-encoded); tolerate the server closing before it has all
    of it (a 413 answered without reading the body)."""
    headers = session.headers(method)
    headers["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", session.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n")
        view = memoryview(body)
        try:
            for start in range(0, len(body), 1 << 20):
                sock.sendall(view[start : start + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early; the reply is already in our receive buffer
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    reply = http.client.HTTPResponse(_Received(b"".join(chunks)))  # chunked or not
    reply.begin()
    return reply.status, reply.read()


class _Received:
    """Bytes already read from a socket, for http.client.HTTPResponse to parse."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, *args, **kwargs):
        return io.BytesIO(self.data)


def abuse_hardening(stack, root: ApiSession, editor: ApiSession, viewer: ApiSession) -> dict:
    """Issue 12 over HTTP: the edge's allowlist enforced by Django too, sign-in limits that
    address rotation cannot dodge, hostile bodies, and an audit trail that shows nobody's
    typed secrets. Returns the scenario's figures."""
    # An uncovered viewer with a valid secret (a leaked secret): refused like WAF would,
    # signed in or not; health and sign-out stay open.
    outsider = ApiSession(stack.port, viewer="198.51.100.250", cookies=dict(root.cookies))
    uncovered = [
        outsider.call(method, path, body).status
        for method, path, body in (
            ("GET", "/api/auth/session", None),
            ("GET", "/api/networks", None),
            ("POST", "/api/networks/mine", {"label": "leaked secret"}),
            ("POST", "/api/auth/login", {"username": "root", "password": PASSWORD}),
        )
    ]
    assert uncovered == [403] * 4, uncovered
    assert outsider.call("GET", "/api/networks").json()["error"]["code"] == "viewer_not_allowed"
    assert outsider.call("GET", "/api/health").status == 200
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork WHERE cidr = '198.51.100.250/32'"
    ) == [(0,)]

    # IPv6: 30 wrong passwords from 30 addresses of one /64 are locked out by the 5th.
    v6_statuses = []
    for i in range(30):
        rotating = ApiSession(stack.port, viewer=f"2a02:c7f:5e1a:1::{i + 1:x}")
        rotating.call("GET", "/api/auth/session")
        reply = rotating.call("POST", "/api/auth/login", {"username": "viewer", "password": "x"})
        v6_statuses.append(reply.status)
    assert v6_statuses[:4] == [401] * 4 and set(v6_statuses[4:]) == {429}, v6_statuses

    # Per account: 20 failures from 20 addresses lock the account for everyone.
    account_statuses = []
    for i in range(20):
        spread = ApiSession(stack.port, viewer=f"62.30.7.{i + 10}")
        spread.call("GET", "/api/auth/session")
        reply = spread.call("POST", "/api/auth/login", {"username": "nobody", "password": "x"})
        account_statuses.append(reply.status)
    assert account_statuses == [401] * 19 + [429], account_statuses
    office = ApiSession(stack.port, viewer="81.2.69.11")
    office.call("GET", "/api/auth/session")
    right = office.call("POST", "/api/auth/login", {"username": "nobody", "password": PASSWORD})
    assert right.status == 429 and "account" in right.json()["error"]["message"]

    # Failed sign-ins: the typed text of an unknown user is never stored; viewers and
    # editors do not see sign-in events at all, superusers do (aggregated, with counts).
    typo = ApiSession(stack.port, viewer="62.30.7.99")
    typo.call("GET", "/api/auth/session")
    typo.call("POST", "/api/auth/login", {"username": TYPED_PASSWORD, "password": "x"})
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_auditevent "
        "WHERE subject LIKE %s OR after::text LIKE %s",
        (f"%{TYPED_PASSWORD}%", f"%{TYPED_PASSWORD}%"),
    ) == [(0,)]
    for reader, visible in ((viewer, False), (editor, False), (root, True)):
        page = reader.call("GET", "/api/audit?action=auth.login_failed").json()["results"]
        assert bool(page) is visible, reader.username
    failed_events, failures = stack.sql(
        "SELECT count(*), coalesce(sum((after->>'failures')::int), 0) "
        "FROM accesscontrol_auditevent WHERE action = 'auth.login_failed'"
    )[0]

    # Hostile bodies: 413 and 400 in the error shape, never a 500.
    big_status, big_body = raw_call(editor, "POST", "/api/networks", b"1" * (40 * 1024 * 1024))
    assert big_status == 413, big_body[:200]
    assert json.loads(big_body)["error"]["code"] == "request_too_large"
    nested = b"[" * 100_000 + b"]" * 100_000
    deep_status, deep_body = raw_call(editor, "POST", "/api/networks", nested)
    assert deep_status == 400, deep_body[:200]
    assert json.loads(deep_body)["error"]["code"] == "parse_error"
    assert "Traceback" not in stack.log_tail("gunicorn", 400)

    return {
        "uncovered_viewer_with_secret": f"{len(uncovered)}/{len(uncovered)} refused 403",
        "ipv6_slash64_rotation": f"{v6_statuses.count(401)} x 401 then 429 (30 addresses)",
        "account_limit": "19 x 401 from 19 addresses, 429 on the 20th and for the office",
        "failed_signin_events": f"{failed_events} events for {failures} failures",
        "auth_events_visible_to": "superusers only",
        "40_mib_body": "413",
        "nested_json": "400",
    }


READ = {"anonymous": 401, "nobody": 403, "viewer": 200, "editor": 200, "root": 200}


def write_ok(ok: int) -> dict:
    return {"anonymous": 401, "nobody": 403, "viewer": 403, "editor": ok, "root": ok}


def test_abuse_roles_csrf_brute_force_and_spoofing_are_refused_over_http(stack, root):
    sessions = {role: ApiSession(stack.port) for role in ROLES}
    for role, session in sessions.items():
        if role == "anonymous":
            session.call("GET", "/api/auth/session")  # a CSRF token, so only the role decides
        else:
            assert session.login(role).status == 200, role
    # Behind the edge Django admits only allowlisted viewers, as WAF does: the brute-force
    # attackers below sign in from networks on the allowlist (a colleague's laptop).
    for cidr in (ATTACKER_NET_V4, ATTACKER_NET_V6):
        reply = root.call("POST", "/api/networks", {"cidr": cidr, "label": "abuse viewers"})
        assert reply.status == 201, reply.body
    targets = {}
    for name, cidr in (
        ("read", "45.6.100.0/24"),
        ("editor", "45.6.101.0/24"),
        ("root", "45.6.102.0/24"),
    ):
        reply = root.call("POST", "/api/networks", {"cidr": cidr, "label": f"target {name}"})
        assert reply.status == 201, reply.body
        targets[name] = reply.json()["id"]

    # The role matrix over HTTP.
    matrix = [
        ("GET", "/api/me", None, READ),
        ("GET", "/api/networks", None, READ),
        ("GET", f"/api/networks/{targets['read']}", None, READ),
        ("PATCH", f"/api/networks/{targets['read']}", {"label": "renamed"}, write_ok(200)),
        ("POST", "/api/sync", {"dry_run": True}, write_ok(200)),
        ("GET", "/api/sync", None, READ),
        ("GET", "/api/audit", None, READ),
        ("GET", "/api/admin/", None, {**dict.fromkeys(ROLES, 302), "root": 200}),
    ]
    cells = 0
    mismatches = []
    for method, path, body, expected in matrix:
        for role in ROLES:
            status = sessions[role].call(method, path, body).status
            cells += 1
            if status != expected[role]:
                mismatches.append((method, path, role, status, expected[role]))
    for index, role in enumerate(ROLES):  # adds, each role its own network
        reply = sessions[role].call(
            "POST", "/api/networks", {"cidr": f"45.6.{10 + index}.0/24", "label": "matrix"}
        )
        cells += 1
        if reply.status != write_ok(201)[role]:
            mismatches.append(("POST", "/api/networks", role, reply.status, write_ok(201)[role]))
        target = targets.get(role, targets["read"])
        status = sessions[role].call("DELETE", f"/api/networks/{target}").status
        cells += 1
        if status != write_ok(204)[role]:
            mismatches.append(("DELETE", "/api/networks/<id>", role, status, write_ok(204)[role]))
    wide = {"cidr": "47.0.0.0/12", "label": "wide"}
    editor_wide = sessions["editor"].call("POST", "/api/networks", wide)
    root_wide = sessions["root"].call("POST", "/api/networks", wide)
    assert not mismatches, mismatches
    assert editor_wide.status == 400 and "cidr" in editor_wide.json()["error"]["fields"]
    assert root_wide.status == 201
    assert sessions["root"].call("DELETE", f"/api/networks/{root_wide.json()['id']}").status == 204
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork WHERE cidr = '45.6.100.0/24'"
    ) == [(1,)]  # the refused deletes removed nothing

    # CSRF: a signed-in editor's unsafe request without the token, or with a foreign
    # Origin, is refused and changes nothing; so is a login without the token.
    editor = sessions["editor"]
    no_token = editor.call(
        "POST", "/api/networks", {"cidr": "45.6.50.0/24", "label": "x"}, csrf=False
    )
    foreign = editor.call(
        "POST",
        "/api/networks",
        {"cidr": "45.6.51.0/24", "label": "x"},
        headers={"Origin": "https://evil.example"},
    )
    fresh = ApiSession(stack.port)
    fresh.call("GET", "/api/auth/session")
    login_no_token = fresh.call(
        "POST", "/api/auth/login", {"username": "editor", "password": PASSWORD}, csrf=False
    )
    for reply in (no_token, foreign, login_no_token):
        assert reply.status == 403 and reply.json()["error"]["code"] == "permission_denied"
    assert stack.sql(
        "SELECT count(*) FROM accesscontrol_allowednetwork "
        "WHERE cidr IN ('45.6.50.0/24', '45.6.51.0/24')"
    ) == [(0,)]

    # Brute force: failures per username and viewer address lock sign-in (429), and a
    # spoofed X-Forwarded-For does not change who the viewer is.
    attacker = ApiSession(stack.port, viewer="62.30.7.200")
    attacker.call("GET", "/api/auth/session")
    failures = 0
    for attempt_no in range(1, 11):
        reply = attacker.call(
            "POST",
            "/api/auth/login",
            {"username": "target", "password": f"guess-{attempt_no}"},
            headers={"X-Forwarded-For": f"198.18.0.{attempt_no}, 10.0.0.{attempt_no}"},
        )
        if reply.status == 429:
            break
        assert reply.status == 401, reply.body
        failures += 1
    assert reply.status == 429, "never locked out"
    lockout = reply
    locked = reply.json()["error"]
    assert locked["code"] == "locked_out" and locked["retry_after_seconds"] > 0
    assert int(reply.headers["Retry-After"]) > 0
    right = attacker.call("POST", "/api/auth/login", {"username": "target", "password": PASSWORD})
    assert right.status == 429  # even the right password, from the locked address
    elsewhere = ApiSession(stack.port, viewer="81.2.69.10")
    assert elsewhere.login("target").status == 200  # the real user's office is not locked

    # The origin secret: without it (or with a wrong one) nothing but health answers,
    # whatever viewer headers are spoofed.
    spoof = {
        "X-Forwarded-For": f"{VIEWER_IP}, 10.0.0.5",
        "CloudFront-Viewer-Address": f"{VIEWER_IP}:1",
    }
    refused = []
    for secret in (None, "wrong-secret"):
        bare = ApiSession(stack.port, secret=secret, cookies=dict(root.cookies))
        for method, path in (
            ("GET", "/api/auth/session"),
            ("GET", "/api/networks"),
            ("POST", "/api/auth/login"),
            ("POST", "/api/networks"),
            ("GET", "/api/admin/"),
        ):
            reply = bare.call(method, path, {"cidr": "45.6.60.0/24", "label": "x"}, headers=spoof)
            refused.append(reply.status)
            assert reply.status == 403 and reply.json()["error"]["code"] == "origin_forbidden"
        health = bare.call("GET", "/api/health", headers={"Host": "10.0.1.23"})
        assert health.status == 200 and health.json() == {"message": "This is /api/health"}
    # With the secret, CloudFront's viewer address wins over a forged X-Forwarded-For.
    seen = editor.call("GET", "/api/auth/session", headers={"X-Forwarded-For": "9.9.9.9"})
    assert seen.json()["viewer_ip"] == VIEWER_IP
    audit_ips = stack.sql(
        "SELECT DISTINCT host(request_ip) FROM accesscontrol_auditevent "
        "WHERE action = 'network.allow' AND subject LIKE '45.6.%%'"
    )
    assert audit_ips == [(VIEWER_IP,)]

    hardening = abuse_hardening(stack, root, editor, sessions["viewer"])

    record(
        "6 abuse",
        **hardening,
        role_matrix_cells=cells,
        role_mismatches=len(mismatches),
        csrf_refusals="3/3 (403, nothing saved)",
        failed_logins_answered_401=f"{failures}, then 429 on failure {failures + 1}",
        lockout=f"429 locked_out, Retry-After {lockout.headers['Retry-After']} s",
        lockout_survives_spoofed_xff="yes",
        no_origin_secret=f"{len(refused)}/{len(refused)} refused 403 (no header believed), "
        "health 200",
        forged_xff_viewer_ip=f"ignored ({VIEWER_IP})",
    )
