"""What the admin console costs a browser: bytes of HTML + JS + CSS and requests up to the
first render, measured in Debian's Chromium. Goal: <= 40 KB uncompressed, 0 third-party.

Two first renders are measured: the sign-in screen (signed out) and the allowlist (signed
in). The static files come from frontend/; `/api/*` is a small stand-in that answers the
few reads a first render makes with contract-shaped bodies (this measures the console,
not Django). Also prints the size of every file in frontend/, loaded or not.

    .venv/bin/python tests/benchmarks/bench_frontend.py      (or: make bench-frontend)
"""

import json
import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

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
        browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
