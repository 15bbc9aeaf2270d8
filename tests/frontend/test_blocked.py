"""The Blocked screen in a real browser: an address the local edge blocked (its verdict
recorded as WAF's sampled request in moto) is listed, and an editor lets it in with two
clicks ("Allow…", then "Allow"), after which it is on the allowlist and through the edge."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import expect

from accesscontrol.models import AllowedNetwork
from accesscontrol.waf import forget_web_acl
from deploy.localstack.aws import record_sampled_request
from deploy.localstack.edge import LocalEdge, WebAclJudge
from tests.frontend.test_console import sign_in

pytestmark = pytest.mark.browser

OUTSIDER = "81.2.70.9"
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class StaticOnly:
    """Routes without a distribution: every path served from frontend/ (what is under test
    is the judge and its samples, not the routing to Django)."""

    def match(self, path: str) -> None:
        return None


def local_edge(settings) -> LocalEdge:
    """The local edge's judge over the web ACL in moto, recording samples as `make run`
    does."""
    return LocalEdge(
        judge=WebAclJudge(
            wafv2=boto3.client("wafv2", region_name="us-east-1"),
            web_acl_name=f"{settings.GATEHOUSE_EDGE_NAME}-edge",
        ),
        routes=StaticOnly(),
        origin_app=lambda environ, start_response: [],
        static_root=FRONTEND,
        record_sample=record_sampled_request,
    )


def status_of(edge: LocalEdge, path: str, viewer: str) -> int:
    seen: list[int] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "REMOTE_ADDR": viewer,
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    b"".join(edge(environ, lambda status, headers, exc_info=None: seen.append(int(status[:3]))))
    return seen[0]


@pytest.fixture
def web_acl(waf, settings):
    forget_web_acl()
    # The allowlist lets the browser (127.0.0.1) in; the outsider is blocked.
    AllowedNetwork.objects.create(cidr="127.0.0.1/32", ip_version=4, label="This machine")
    waf.edit(4, {"127.0.0.1/32"})
    yield waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    forget_web_acl()


def test_an_editor_allows_a_blocked_address_in_two_clicks(
    console_url, page, make_user, web_acl, waf, settings, console_errors
):
    edge = local_edge(settings)
    assert status_of(edge, "/", OUTSIDER) == 403
    assert status_of(edge, "/api/me", OUTSIDER) == 403
    assert status_of(edge, "/", "192.0.2.200") == 403
    assert status_of(edge, "/", "127.0.0.1") == 200  # allowed: not listed
    make_user("erin", "editor")
    sign_in(page, console_url, "erin")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Blocked").click()
    expect(page.get_by_role("heading", name="Blocked")).to_be_visible()
    row = page.locator(f'tr[data-address="{OUTSIDER}"]')
    expect(row).to_contain_text("/api/me")
    expect(row).to_contain_text("2")
    summary = page.get_by_test_id("blocked-summary")
    expect(summary).to_contain_text("2 addresses, 3 blocked requests")
    expect(page.locator("main")).not_to_contain_text("null")
    expect(page.locator("tr[data-address]")).to_have_count(2)
    expect(page.locator("tr[data-address]").first).to_have_attribute("data-address", "192.0.2.200")

    row.get_by_role("button", name=f"Allow {OUTSIDER}…").click()  # click 1
    dialog = page.get_by_role("dialog", name=f"Allow {OUTSIDER}")
    expect(dialog.get_by_label("For")).to_have_value("8")
    dialog.get_by_role("button", name="Allow", exact=True).click()  # click 2

    expect(page.get_by_role("status")).to_contain_text(f"Allowed {OUTSIDER}/32 for 8 hours")
    expect(row).to_contain_text("Allowed now")
    expect(row.get_by_role("button")).to_have_count(0)
    network = AllowedNetwork.objects.get(cidr=f"{OUTSIDER}/32")
    assert network.expires_at is not None and network.created_by.username == "erin"
    assert f"{OUTSIDER}/32" in waf.addresses(4)
    page.get_by_role("link", name="Allowlist").click()
    expect(page.locator(f'tr[data-cidr="{OUTSIDER}/32"]')).to_be_visible()
    # A fresh judge (the edge re-reads WAF every second) lets the address through now.
    assert status_of(local_edge(settings), "/", OUTSIDER) == 200
    assert [e for e in console_errors if "Failed to load resource" not in e] == []


def test_a_viewer_sees_the_list_without_allow_buttons(
    console_url, page, make_user, web_acl, settings
):
    assert status_of(local_edge(settings), "/", OUTSIDER) == 403
    make_user("vic", "viewer")
    sign_in(page, console_url, "vic")
    page.goto(console_url + "/#/blocked")
    row = page.locator(f'tr[data-address="{OUTSIDER}"]')
    expect(row).to_be_visible()
    expect(page.get_by_text("You have read-only access.")).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
