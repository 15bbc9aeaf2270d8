"""What the admin console costs a browser: bytes of HTML + JS + CSS and requests up to the
first render, measured in Debian's Chromium. Goal: <= 40 KB uncompressed, 0 third-party.

Two first renders are measured: the sign-in screen (signed out) and the allowlist (signed
in). The static files come from frontend/; `/api/*` is a small stand-in that answers the
few reads a first render makes with contract-shaped bodies (this measures the console,
not Django). Also prints the size of every file in frontend/, loaded or not.

Then the console against the real Django (same origin, like the edge; SQLite in a
throwaway file, or BENCH_DATABASE_URL) with 1,000 and with 10,000 networks: the time from
clicking "Sign in" to the allowlist's rows painted (Chromium, median of REPEAT sign-ins,
each in a fresh browser context, with min-max), and what one list request costs Django
in-process on the first and on the last page (paging must not grow with the table), by
`page=N` (OFFSET) and by following the answers' cursor links (keyset: the page seeks into
an index), newest first and by label.
Goal: under 1 s at 10,000.

    .venv/bin/python tests/benchmarks/bench_frontend.py      (or: make bench-frontend)
"""

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CHROMIUM = "/usr/bin/chromium"
GOAL_BYTES = 40 * 1024
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
USER = {"id": 1, "username": "alice", "role": "editor", "is_superuser": False}
NETWORK = {
    "id": 1, "cidr": "203.0.113.0/24", "ip_version": 4, "label": "Head office", "note": "",
    "status": "active", "source": "console", "expires_at": None, "created_by": "alice",
    "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
    "covers_you": False,
}  # fmt: skip


def api_body(path: str, signed_in: bool) -> dict:
    if path == "/api/auth/session":
        return {"authenticated": signed_in, "user": USER if signed_in else None,
                "viewer_ip": "198.51.100.7"}  # fmt: skip
    if path == "/api/me":
        return {"user": USER, "viewer_ip": "198.51.100.7", "allowed": False,
                "covering_networks": []}  # fmt: skip
    if path == "/api/sync":
        state = {"name": "gatehouse-office-v4", "ip_version": 4, "status": "in_sync",
                 "last_synced_at": "2025-01-01T00:00:00Z", "last_error": "", "drift": {},
                 "entries": 1}  # fmt: skip
        return {"in_sync": True, "sets": [state]}
    if path == "/api/networks":
        return {"count": 1, "next": None, "previous": None, "results": [NETWORK]}
    return {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def make_app(signed_in: bool):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/api/"):
            body = json.dumps(api_body(path, signed_in)).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        target = (FRONTEND / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
        if not target.is_relative_to(FRONTEND) or not target.is_file():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        content_type = TYPES.get(target.suffix, "application/octet-stream")
        # Cacheable like CloudFront serves them, so the icon is fetched once per page.
        cache = "no-cache" if target.suffix == ".html" else "max-age=300"
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", cache)])
        return [target.read_bytes()]

    return app


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        pass


def measure(browser, signed_in: bool, ready_heading: str) -> dict:
    server = make_server("127.0.0.1", 0, make_app(signed_in), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    page = browser.new_page()
    seen = []
    page.on("requestfinished", lambda request: seen.append(request))
    page.goto(origin + "/")
    page.get_by_role("heading", name=ready_heading).wait_for()
    page.wait_for_load_state("networkidle")
    rows = []
    for request in seen:
        parts = urlsplit(request.url)
        response = request.response()
        size = len(response.body()) if response else 0
        rows.append((parts.path, f"{parts.scheme}://{parts.netloc}" == origin, size))
    page.close()
    server.shutdown()
    server.server_close()
    static = [r for r in rows if r[1] and Path(r[0]).suffix in (".html", ".js", ".css", "")]
    static = [r for r in static if not r[0].startswith("/api/")]
    return {
        "requests": len(rows),
        "api_requests": sum(1 for r in rows if r[0].startswith("/api/")),
        "third_party": sum(1 for r in rows if not r[1]),
        "bytes": sum(r[2] for r in static),
        "files": [(r[0] if r[1] else "(third-party) " + r[0], r[2]) for r in rows],
    }


SIZES = (1_000, 10_000)
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
PAINT_GOAL_S = 1.0
BENCH_PASSWORD = "bench-" + "x" * 20  # noqa: S105 (a throwaway user in a throwaway database)


def setup_django() -> None:
    """The product's settings, plain HTTP on loopback, a throwaway database."""
    workdir = tempfile.mkdtemp(prefix="gatehouse-bench-frontend-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "adminsite.settings",
            "DJANGO_SECRET_KEY": "benchmark-only-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": os.environ.get(
                "BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"
            ),
            "GATEHOUSE_HTTPS": "false",
            "GATEHOUSE_CLIENT_IP_SOURCE": "direct",
            "DJANGO_LOG_LEVEL": "WARNING",
            # The bench's editor signs in with a password only (production asks editors
            # for a second factor, and the rows would wait behind the code step).
            "GATEHOUSE_REQUIRE_MFA": "off",
            # Playwright's sync API runs an event loop in this thread; the ORM work here is
            # plain synchronous setup and requests.
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        }
    )
    sys.path.insert(0, str(FRONTEND.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def fill_allowlist(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accesscontrol.models import AllowedNetwork

    AllowedNetwork.objects.all().delete()
    AllowedNetwork.objects.bulk_create(
        (
            AllowedNetwork(
                cidr=f"{60 + i // 65536}.{i // 256 % 256}.{i % 256}.0/24",
                ip_version=4,
                label=f"Site {i}",
            )
            for i in range(rows)
        ),
        batch_size=1000,
    )
    User = get_user_model()
    if not User.objects.filter(username="bench").exists():
        user = User.objects.create_user("bench", password=BENCH_PASSWORD)
        user.groups.add(Group.objects.get(name="editor"))


def real_app():
    """The edge's shape: /api/* to Django, everything else from frontend/."""
    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()
    static = make_app(False)

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/api/"):
            return django_app(environ, start_response)
        return static(environ, start_response)

    return app


def paint_after_sign_in(browser, origin: str) -> tuple[float, float]:
    """Seconds to the allowlist's rows on screen, (from the "Sign in" click, from the
    sign-in's answer): the first includes checking the password (PBKDF2, about the same
    at any allowlist size), the second is what the console and the list cost."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(origin + "/")
    page.get_by_label("Username").fill("bench")
    page.get_by_label("Password").fill(BENCH_PASSWORD)
    signed_in = []
    page.on(
        "response",
        lambda r: signed_in.append(time.perf_counter()) if r.url.endswith("/auth/login") else 0,
    )
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="networks"] tbody tr').first.wait_for()
    painted = time.perf_counter()
    context.close()
    return painted - started, painted - signed_in[0]


def list_request_ms(query: str) -> float:
    """Best of 20 in-process GET /api/networks (CPU and database, no network)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    assert client.get(f"/api/networks?{query}").status_code == 200
    times = []
    for _ in range(20):
        started = time.perf_counter()
        client.get(f"/api/networks?{query}")
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def cursor_link(query: str, link: str) -> str:
    """The query of the answer's `next` or `previous` link for `query`."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    return urlsplit(client.get(f"/api/networks?{query}").json()[link]).query


def paging_ms(rows: int, ordering: str = "") -> str:
    """Page 1 and the last page by number; page 2 and the last page by cursor (the
    `next` link of the page before), and the page before the last by its `previous`."""
    last = (rows + 49) // 50
    base = "page_size=50" + (f"&ordering={ordering}" if ordering else "")
    by_number = (
        f"page 1 {list_request_ms(f'{base}&page=1'):.1f} ms, "
        f"page {last} {list_request_ms(f'{base}&page={last}'):.1f} ms"
    )
    second = cursor_link(f"{base}&page=1", "next")
    to_last = cursor_link(f"{base}&page={last - 1}", "next")
    back = cursor_link(f"{base}&page={last}", "previous")
    by_cursor = (
        f"page 2 {list_request_ms(second):.1f} ms, page {last} {list_request_ms(to_last):.1f} ms"
        f" (next), page {last - 1} {list_request_ms(back):.1f} ms (previous)"
    )
    return f"by page= {by_number}; by cursor {by_cursor}"


def measure_real(browser) -> bool:
    from django.test.utils import setup_test_environment

    setup_django()
    setup_test_environment()  # the test client against ALLOWED_HOSTS
    # Threaded, as gunicorn's workers would answer the console's parallel reads.
    server = make_server(
        "127.0.0.1", 0, real_app(), server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    ok = True
    database = os.environ["DATABASE_URL"].split(":", 1)[0]
    print(f"\nreal Django ({database}, threaded server), median of {REPEAT} sign-ins "
          "(min-max):")  # fmt: skip
    try:
        for rows in SIZES:
            fill_allowlist(rows)
            paint_after_sign_in(browser, origin)  # warm: Django's caches, Chromium's code
            runs = [paint_after_sign_in(browser, origin) for _ in range(REPEAT)]
            clicks, answers = [run[0] for run in runs], [run[1] for run in runs]
            median = statistics.median(answers)
            met = rows < SIZES[-1] or median < PAINT_GOAL_S
            ok &= met
            print(
                f"  {rows:>6,} networks: sign-in answered -> rows painted "
                f"{median * 1000:5.0f} ms ({min(answers) * 1000:.0f}-{max(answers) * 1000:.0f}); "
                f"click -> painted {statistics.median(clicks) * 1000:5.0f} ms "
                f"({min(clicks) * 1000:.0f}-{max(clicks) * 1000:.0f})"
                f"  [{'met' if met else 'MISSED'}: goal < {PAINT_GOAL_S:.0f} s at 10,000]"
            )
            print(
                f"          GET /api/networks in-process, best of 20: contains "
                f"{list_request_ms('contains=60.1.2.3'):.1f} ms, text search "
                f"{list_request_ms('search=site%2099'):.1f} ms"
            )
            print(f"          newest first: {paging_ms(rows)}")
            print(f"          by label:     {paging_ms(rows, 'label')}")
    finally:
        server.shutdown()
        server.server_close()
    return ok


def main() -> int:
    every = {
        str(p.relative_to(FRONTEND)): p.stat().st_size
        for p in sorted(FRONTEND.rglob("*"))
        if p.suffix in (".html", ".js", ".css")
    }
    total = sum(every.values())
    print(f"frontend/ HTML+JS+CSS, every file: {total} bytes ({total / 1024:.1f} KB)")
    if not os.path.exists(CHROMIUM):
        print(
            f"No Chromium at {CHROMIUM} (apt-get install -y chromium): first render not measured."
        )
        return 0

    from playwright.sync_api import sync_playwright

    ok = True
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        for name, signed_in, heading in (
            ("sign-in screen", False, "Sign in"),
            ("allowlist screen", True, "Allowlist"),
        ):
            result = measure(browser, signed_in, heading)
            verdict = (
                "ok" if result["bytes"] <= GOAL_BYTES and not result["third_party"] else "OVER"
            )
            ok &= verdict == "ok"
            print(
                f"{name}: {result['bytes']} bytes ({result['bytes'] / 1024:.1f} KB) HTML+JS+CSS, "
                f"{result['requests']} requests to first render ({result['api_requests']} API), "
                f"{result['third_party']} third-party  [{verdict}: goal <= 40 KB, 0 third-party]"
            )
            for path, size in result["files"]:  # every request, API and icon included
                print(f"    {size:6d}  {path}")
            icons = sum(1 for path, _ in result["files"] if path == "/favicon.svg")
            ok &= icons == 1
            print(f"    favicon.svg fetched {icons}x  [{'ok' if icons == 1 else 'OVER'}: once]")
        ok &= os.environ.get("BENCH_STUB_ONLY") == "1" or measure_real(browser)
        browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
