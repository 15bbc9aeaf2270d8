"""Browser harness: one same-origin server wired like the edge (`/api/*` -> Django, the rest
-> the static files in frontend/, the edge's security headers and CSP on every response),
moto standing in for WAF (`waf` in tests/conftest.py), and Debian's Chromium.

The server is a threaded wsgiref server on an ephemeral loopback port. Django requests are
served one at a time (a lock) so the tests' SQLite database never sees concurrent writers;
each request closes its thread's database connections, which would otherwise outlive the
short-lived request threads.
"""

import mimetypes
import os
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from playwright.sync_api import expect

from tests.conftest import role_group

# Django requests are served one at a time (below), and on a loaded 2-core CI machine one
# slow request (a sign-in's password hash, the schema) can queue the next past Playwright's
# default 5 s: wait up to 20 s before an expectation fails.
expect.set_options(timeout=20_000)

# Django imports wait for the fixtures: pytest loads this file before Django is set up.

CHROMIUM = "/usr/bin/chromium"
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"No Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop running in the test thread; Django would
    # refuse ORM calls from the test body. The ORM work here is plain synchronous setup.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        pass


def static_files(environ, start_response):
    """The S3 origin: files from frontend/, `/` -> index.html, anything else 404."""
    path = environ.get("PATH_INFO", "/")
    target = (FRONTEND / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
    if not target.is_relative_to(FRONTEND) or not target.is_file():
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".js":
        content_type = "text/javascript"
    body = target.read_bytes()
    start_response(
        "200 OK",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
        ],
    )
    return [body]


def edge_app(django_app):
    from django.db import connections

    # The headers CloudFront's response headers policy adds (the local edge's copy of them):
    # the console must run under that CSP.
    from deploy.localstack.edge import with_security_headers

    lock = threading.Lock()

    def app(environ, raw_start_response):
        start_response = with_security_headers(raw_start_response)
        if not environ.get("PATH_INFO", "").startswith("/api/"):
            return static_files(environ, start_response)
        # What the ALB tells Django: the viewer spoke HTTPS to the edge.
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
        with lock:
            try:
                return list(django_app(environ, start_response))
            finally:
                connections.close_all()

    return app


@pytest.fixture
def console_url(transactional_db, settings, waf):
    """Base URL of the console, served same-origin with the API on 127.0.0.1."""
    from django.core.wsgi import get_wsgi_application

    server = make_server(
        "127.0.0.1", 0, edge_app(get_wsgi_application()), _ThreadingWSGIServer, _QuietHandler
    )
    origin = f"http://127.0.0.1:{server.server_port}"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    # Django sees HTTPS (X-Forwarded-Proto) while the browser's origin is http://: trust it.
    # Secure cookies need no change: Chromium keeps them for http://127.0.0.1 (trustworthy).
    settings.CSRF_TRUSTED_ORIGINS = [origin]
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "direct"
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    # As the local stack runs (make run): no second factor required. The TOTP tests
    # (test_second_factor.py) turn it on.
    settings.GATEHOUSE_REQUIRE_MFA = "off"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield origin
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def make_user(transactional_db):
    from django.contrib.auth import get_user_model

    def build(username: str, role: str):
        user = get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD)
        user.groups.add(role_group(role))
        return user

    return build


@pytest.fixture
def console_errors(page):
    """Console errors and uncaught exceptions seen by the page during the test."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""


@pytest.fixture
def csp_violations(page):
    """Content-Security-Policy violations the page reported (read it at the end)."""
    page.add_init_script(CSP_LISTENER)
    return lambda: page.evaluate("window.__cspViolations || []")
