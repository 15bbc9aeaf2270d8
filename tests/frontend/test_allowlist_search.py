"""The allowlist screen at scale (issue 18, part 4), in Chromium: the "Contains address"
search box (GET /api/networks?contains=...), and the page's requests (the icon once, the
screen's module fetched while the session loads)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.frontend.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _sign_in_at_root(page: Page, url: str, username: str) -> None:
    page.goto(url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user")).to_have_text(username)


@pytest.fixture
def campus(transactional_db):
    from datetime import timedelta

    from django.utils import timezone

    from accesscontrol.models import AllowedNetwork

    past = timezone.now() - timedelta(hours=1)
    AllowedNetwork.objects.bulk_create(
        [
            AllowedNetwork(cidr="147.46.0.0/16", ip_version=4, label="Campus"),
            AllowedNetwork(cidr="147.46.3.0/24", ip_version=4, label="Lab"),
            AllowedNetwork(cidr="147.46.3.9/32", ip_version=4, label="Printer", expires_at=past),
            AllowedNetwork(cidr="147.46.4.0/24", ip_version=4, label="Other lab"),
            AllowedNetwork(cidr="2a00:1450:4009::/48", ip_version=6, label="V6 office"),
        ]
    )


def test_contains_address_box_lists_the_networks_that_let_it_in(
    console_url, page, make_user, campus, console_errors
):
    make_user("alice", "viewer")
    _sign_in_at_root(page, console_url, "alice")
    table = page.get_by_test_id("networks")
    expect(table.locator("tbody tr")).to_have_count(5)

    page.get_by_label("Contains address").fill("147.46.3.9")
    expect(table.locator("tbody tr")).to_have_count(3)
    for cidr in ("147.46.0.0/16", "147.46.3.0/24", "147.46.3.9/32"):
        expect(page.locator(f'tr[data-cidr="{cidr}"]')).to_be_visible()
    expect(page.locator('tr[data-cidr="147.46.3.9/32"]')).to_contain_text("Expired")
    expect(page).to_have_url(re.compile(r"#/networks\?contains=147\.46\.3\.9$"))

    page.get_by_label("Status").select_option("active")
    expect(table.locator("tbody tr")).to_have_count(2)

    page.get_by_label("Contains address").fill("2a00:1450:4009:1::5")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(page.locator('tr[data-cidr="2a00:1450:4009::/48"]')).to_be_visible()

    page.get_by_label("Contains address").fill("not an address")
    expect(page.locator('[data-name="contains"] .field-error')).to_contain_text(
        "Give an address or network"
    )
    expect(page.get_by_label("Contains address")).to_have_attribute("aria-invalid", "true")

    page.reload()  # the search lives in the URL
    expect(page.get_by_label("Contains address")).to_have_value("not an address")
    page.get_by_label("Contains address").fill("9.9.9.9")
    expect(page.get_by_text("No networks match the filter.")).to_be_visible()
    assert [e for e in console_errors if "Failed to load resource" not in e] == []


def test_the_icon_is_fetched_once_and_the_screen_module_early(console_url, page, make_user, campus):
    make_user("alice", "viewer")
    _sign_in_at_root(page, console_url, "alice")
    expect(page.get_by_test_id("networks").locator("tbody tr")).to_have_count(5)

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url.split("/", 3)[3]))
    page.reload()  # signed in, at "/": the allowlist
    expect(page.get_by_test_id("networks").locator("tbody tr")).to_have_count(5)
    page.wait_for_load_state("networkidle")
    assert requests.count("favicon.svg") == 1, requests
    # The screen's module is asked for before the session answers, not after it.
    assert requests.index("views/networks.js") < requests.index("api/auth/session"), requests
    assert page.url == console_url + "/"  # not rewritten (that would fetch the icon again)


@pytest.fixture
def three_pages(transactional_db):
    """120 networks, 50 a page: labels "Site 000" to "Site 119", created in that order."""
    from accesscontrol.models import AllowedNetwork

    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(cidr=f"62.50.{i}.0/24", ip_version=4, label=f"Site {i:03d}")
        for i in range(120)
    )


def test_next_and_previous_follow_the_cursor_links(
    console_url, page, make_user, three_pages, console_errors
):
    make_user("alice", "viewer")
    _sign_in_at_root(page, console_url, "alice")
    table = page.get_by_test_id("networks")
    pager = page.get_by_role("navigation", name="Pages")
    expect(table.locator("tbody tr")).to_have_count(50)
    page.get_by_role("button", name="Label").click()  # by label, A to Z
    expect(table.locator("tbody tr").first).to_contain_text("Site 000")
    listed = []
    page.on("request", lambda r: listed.append(r.url) if "/api/networks?" in r.url else None)

    page.get_by_role("button", name="Next").click()
    expect(pager).to_contain_text("page 2 of 3")
    expect(table.locator("tbody tr").first).to_contain_text("Site 050")
    page.get_by_role("button", name="Next").click()
    expect(pager).to_contain_text("page 3 of 3")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(table.locator("tbody tr").first).to_contain_text("Site 100")
    expect(table.locator("tbody tr").last).to_contain_text("Site 119")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"#/networks\?ordering=label&page=3$"))
    page.get_by_role("button", name="Previous").click()
    expect(pager).to_contain_text("page 2 of 3")
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(table.locator("tbody tr").first).to_contain_text("Site 050")
    expect(table.locator("tbody tr").last).to_contain_text("Site 099")
    # Pages 2, 3 and 2 again came by cursor (with the sort), not by number.
    assert len(listed) == 3, listed
    assert all("cursor=" in url and "page=" not in url for url in listed), listed
    assert all("ordering=label" in url for url in listed), listed

    page.reload()  # the URL says page 2: read by number, the same rows
    expect(pager).to_contain_text("page 2 of 3")
    expect(table.locator("tbody tr").first).to_contain_text("Site 050")
    page.get_by_role("button", name="Previous").click()
    expect(pager).to_contain_text("page 1 of 3")
    expect(table.locator("tbody tr").first).to_contain_text("Site 000")
    assert [e for e in console_errors if "Failed to load resource" not in e] == []
