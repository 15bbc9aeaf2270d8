"""An access link end to end through the local stack (`make run`): an editor makes a link;
a viewer outside the allowlist (another address, claimed through the local edge's test
header) is blocked by the edge's web ACL, opens the link, presses the one button and then
gets in. Once over plain HTTP (as a browser without script would), once in Chromium with
the console. Nothing of ours is mocked: the local edge evaluates the provisioned web ACL
(the access-link rules included) itself."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from deploy.waf_rules import ACCESS_LINK_HINT
from tests.deploy.test_localstack import (
    PASSWORD,
    Browser,
    free_port,
    local_env,
    start_runlocal,
    stop_runlocal,
)

pytestmark = pytest.mark.e2e

OUTSIDER = "81.2.70.9"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access-links-stack")
    ports = {"edge": free_port(), "aws": free_port(), "origin": free_port()}
    env = {**local_env(tmp, ports["aws"]), "GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER": "true"}
    proc, log = start_runlocal(tmp, env, ports, "runlocal.log")
    yield {"base": f"http://127.0.0.1:{ports['edge']}", "port": ports["edge"]}
    assert stop_runlocal(proc, log) == 0


class Outsider:
    """A cookie-keeping client at another address (the local edge's test header)."""

    def __init__(self, base: str, viewer: str) -> None:
        self.base, self.viewer = base, viewer
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.requests = 0

    def call(self, method: str, url: str, form: dict | None = None) -> tuple[int, str]:
        self.requests += 1
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("X-Gatehouse-Local-Viewer", self.viewer)
        if form is not None:
            request.add_header("Origin", self.base)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def test_a_blocked_viewer_redeems_a_link_over_http_in_two_requests(local_stack):
    admin = Browser(local_stack["port"])
    admin.login()
    status, body = admin.call("POST", "/api/access-links", {"label": "Sam from home", "hours": 2})
    assert status == 201, body
    link = json.loads(body)["url"]
    assert link.startswith(local_stack["base"] + "/api/access/")

    sam = Outsider(local_stack["base"], "81.2.70.20")
    status, page = sam.call("GET", local_stack["base"] + "/api/auth/session")
    assert status == 403 and ACCESS_LINK_HINT in page  # the edge's block page
    assert sam.call("GET", local_stack["base"] + "/api/access-links")[0] == 403
    sam.requests = 0

    status, page = sam.call("GET", link)
    assert status == 200 and "81.2.70.20/32 for 2 hours" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, page = sam.call("POST", link, {"csrfmiddlewaretoken": token})
    assert status == 200 and "You are in" in page, page
    assert sam.requests == 2  # the page, the button: the address is allowed
    started = time.monotonic()
    deadline = time.monotonic() + 10
    while sam.call("GET", local_stack["base"] + "/api/auth/session")[0] != 200:
        assert time.monotonic() < deadline, "the edge never let the redeemed address in"
        time.sleep(0.3)
    # The local edge re-reads the IP sets at most once a second (real WAF: up to a minute),
    # so the first reload may still be blocked.
    print(
        f"\nredeem path: 2 requests to be allowed; {sam.requests} until a working session "
        f"({time.monotonic() - started:.1f} s after pressing the button)"
    )
    assert sam.call("GET", link)[0] == 404  # single use


@pytest.mark.browser
def test_editor_makes_a_link_and_a_blocked_viewer_redeems_it_and_gets_in(browser, local_stack):
    base = local_stack["base"]
    admin = browser.new_context().new_page()
    admin.goto(base + "/#/links")
    admin.get_by_label("Username").fill("admin")
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_role("heading", name="Access links")).to_be_visible()
    admin.get_by_label("For whom, and why").fill("Dana, contractor")
    admin.get_by_label("Access lasts (hours)").fill("4")
    admin.get_by_role("button", name="Make link").click()
    url_box = admin.get_by_test_id("link-url")
    expect(url_box).to_have_value(re.compile(r"/api/access/[A-Za-z0-9_-]{43}$"))
    link = url_box.input_value()
    expect(admin.get_by_test_id("links")).to_contain_text("active")

    outsider_context = browser.new_context(
        extra_http_headers={"X-Gatehouse-Local-Viewer": OUTSIDER}
    )
    outsider = outsider_context.new_page()
    blocked = outsider.goto(base + "/")
    assert blocked.status == 403
    expect(outsider.locator("body")).to_contain_text(ACCESS_LINK_HINT)

    requests: list[str] = []
    outsider.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    opened = outsider.goto(link)
    assert opened.status == 200
    expect(outsider.locator("body")).to_contain_text("admin invited you: Dana, contractor.")
    expect(outsider.locator("body")).to_contain_text(f"{OUTSIDER}/32 for 4 hours")
    outsider.get_by_role("button", name=f"Allow my address {OUTSIDER}/32").click()
    expect(outsider.get_by_role("heading", name="You are in")).to_be_visible()
    redeem_requests = len(requests)

    # The edge re-reads the web ACL's IP sets at most once a second (real WAF: a minute).
    outsider.get_by_role("link", name="Open Gatehouse").click()
    for _ in range(20):
        if outsider.get_by_label("Username").count():
            break
        outsider.wait_for_timeout(500)
        outsider.reload()
    expect(outsider.get_by_label("Username")).to_be_visible()
    print(f"\nredeem path in Chromium: {redeem_requests} requests: {requests[:redeem_requests]}")
    print(f"to the console's sign-in screen: {len(requests)} requests in all")
    assert redeem_requests == 2

    admin.reload()
    expect(admin.get_by_test_id("links")).to_contain_text(OUTSIDER)
    expect(admin.get_by_test_id("links")).to_contain_text("used")
