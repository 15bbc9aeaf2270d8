"""The admin console in a real browser (Debian's Chromium), against Django and moto's WAF."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.frontend.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "allowlist.png"
# The browser itself logs every 4xx/5xx answer as a console error; tests that provoke one
# on purpose (and assert the outcome on the page) name it here.
LOAD_FAILURE = "Failed to load resource"


def sign_in(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(url + "/#/networks")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user")).to_have_text(username)


def add_network(page: Page, cidr: str, label: str, note: str = "") -> None:
    page.get_by_role("button", name="Add network").first.click()
    form = page.get_by_role("form", name="Add a network")
    form.get_by_label("CIDR").fill(cidr)
    form.get_by_label("Label").fill(label)
    if note:
        form.get_by_label("Note").fill(note)
    form.get_by_role("button", name="Add network").click()


def row(page: Page, cidr: str):
    return page.locator(f'tr[data-cidr="{cidr}"]')


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if LOAD_FAILURE not in e]


def test_signing_in_shows_user_role_and_viewer_ip(console_url, page, make_user, console_errors):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    expect(page.locator(".top")).to_contain_text("editor")
    expect(page.get_by_test_id("viewer")).to_contain_text("127.0.0.1")
    expect(page.get_by_test_id("viewer")).to_contain_text("Not allowed")
    expect(page.get_by_role("heading", name="Allowlist")).to_be_visible()
    assert console_errors == []


def test_wrong_password_is_reported_inline(console_url, page, make_user, console_errors):
    make_user("alice", "editor")
    page.goto(console_url)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).not_to_be_empty()
    expect(page.get_by_test_id("user")).to_have_count(0)
    assert unexpected(console_errors) == []


def test_lockout_says_when_to_try_again(console_url, page, make_user, settings):
    make_user("alice", "editor")
    page.goto(console_url)
    page.get_by_label("Username").fill("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    expect(page.get_by_role("alert")).to_contain_text("Try again after")


def test_adding_a_network_lists_it_and_writes_waf(
    console_url, page, make_user, waf, console_errors
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office", "Main building")
    expect(row(page, "203.0.113.0/24")).to_contain_text("Head office")
    expect(row(page, "203.0.113.0/24")).to_contain_text("Active")
    expect(page.get_by_role("status")).to_contain_text("Added 203.0.113.0/24")
    assert "203.0.113.0/24" in waf.addresses(4)
    assert console_errors == []


def test_bad_cidr_error_appears_next_to_the_field(console_url, page, make_user, console_errors):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.7/24", "Host bits set")
    cidr = page.get_by_role("form", name="Add a network").get_by_label("CIDR")
    expect(cidr).to_have_attribute("aria-invalid", "true")
    error = page.locator('.field[data-name="cidr"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("203.0.113.0/24")  # the server names the network to use
    expect(cidr).to_be_focused()
    assert row(page, "203.0.113.7/24").count() == 0
    assert unexpected(console_errors) == []


def test_allow_my_ip_temporarily_shows_the_detected_ip_first(console_url, page, make_user, waf):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    page.get_by_role("button", name="Allow my current IP").click()
    dialog = page.get_by_role("dialog", name="Allow my current IP")
    expect(dialog.get_by_test_id("detected-ip")).to_have_text("127.0.0.1")
    dialog.get_by_label("Temporary access").check()
    dialog.get_by_label("Expires in (hours)").fill("2")
    dialog.get_by_role("button", name="Allow this IP").click()
    expect(dialog).to_have_count(0)
    mine = row(page, "127.0.0.1/32")
    expect(mine).to_contain_text("Covers you")
    expect(mine.locator('td[data-label="Expires"]')).to_contain_text("in 2 hours")
    expect(page.get_by_test_id("viewer")).to_contain_text("Allowed")
    assert "127.0.0.1/32" in waf.addresses(4)


def test_editing_changes_label_note_and_expiry(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")  # stays permanent: the expiry is allowed
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    add_network(page, "198.51.100.0/24", "Branch")
    expect(row(page, "198.51.100.0/24")).to_contain_text("Never")
    page.get_by_role("button", name="Edit 198.51.100.0/24").click()
    dialog = page.get_by_role("dialog", name="Edit 198.51.100.0/24")
    dialog.get_by_label("Label").fill("Branch office")
    dialog.get_by_label("Note").fill("Second floor")
    dialog.get_by_label("Expiry").select_option("hours")
    dialog.get_by_label("Expires in (hours)").fill("5")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    edited = row(page, "198.51.100.0/24")
    expect(edited).to_contain_text("Branch office")
    expect(edited).to_contain_text("Second floor")
    expect(edited.locator('td[data-label="Expires"]')).to_contain_text("in 5 hours")
    expect(page.get_by_role("button", name="Edit 198.51.100.0/24")).to_be_focused()


def test_removing_own_network_asks_again_then_removes(
    console_url, page, make_user, waf, console_errors
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    page.get_by_role("button", name="Allow my current IP").click()
    page.get_by_role("dialog").get_by_role("button", name="Allow this IP").click()
    expect(row(page, "127.0.0.1/32")).to_contain_text("Covers you")
    expect(row(page, "203.0.113.0/24")).not_to_contain_text("Covers you")

    # Cancelling puts focus back on the button that opened the dialog.
    opener = page.get_by_role("button", name="Remove 127.0.0.1/32")
    opener.click()
    expect(page.get_by_role("dialog", name="Remove network")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(opener).to_be_focused()

    opener.click()
    dialog = page.get_by_role("dialog", name="Remove network")
    dialog.get_by_role("button", name="Remove", exact=True).click()
    expect(dialog.locator(".warning")).to_contain_text("block your own address")
    expect(dialog.locator(".warning")).to_contain_text("127.0.0.1")
    expect(row(page, "127.0.0.1/32")).to_be_visible()  # nothing removed yet
    dialog.get_by_role("button", name="Remove anyway").click()
    expect(row(page, "127.0.0.1/32")).to_have_count(0)
    expect(page.get_by_role("heading", name="Allowlist")).to_be_focused()
    expect(page.get_by_test_id("viewer")).to_contain_text("Not allowed")
    assert "127.0.0.1/32" not in waf.addresses(4)
    assert unexpected(console_errors) == []


def test_removing_the_last_ipv4_network_is_refused_with_the_reason(
    console_url, page, make_user, waf, console_errors
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    add_network(page, "2001:db8::/48", "Head office v6")
    expect(row(page, "2001:db8::/48")).to_be_visible()

    page.get_by_role("button", name="Remove 203.0.113.0/24").click()
    dialog = page.get_by_role("dialog", name="Remove network")
    dialog.get_by_role("button", name="Remove", exact=True).click()

    refusal = dialog.get_by_test_id("refusal")
    expect(refusal).to_contain_text("Gatehouse keeps this network")
    expect(refusal).to_contain_text("last active IPv4 network")
    expect(dialog.get_by_role("button", name="Remove", exact=True)).to_be_disabled()
    page.keyboard.press("Escape")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    assert waf.addresses(4) == {"203.0.113.0/24"}
    assert unexpected(console_errors) == []


def test_adopted_network_is_marked_for_review_until_an_editor_reviews_it(
    console_url, page, make_user
):
    from accesscontrol.models import AllowedNetwork

    make_user("alice", "editor")
    AllowedNetwork.objects.create(cidr="203.0.113.0/24", ip_version=4, label="Office")
    AllowedNetwork.objects.create(
        cidr="192.0.2.0/24",
        ip_version=4,
        label="Adopted from WAF",
        source="adopted",
        needs_review=True,
    )
    sign_in(page, console_url, "alice")
    expect(row(page, "192.0.2.0/24")).to_contain_text("Review")
    page.get_by_label("Status").select_option("review")
    expect(row(page, "203.0.113.0/24")).to_have_count(0)
    expect(row(page, "192.0.2.0/24")).to_be_visible()
    page.reload()  # the filter lives in the URL (#/networks?status=review)
    expect(page.get_by_label("Status")).to_have_value("review")
    expect(row(page, "192.0.2.0/24")).to_be_visible()
    expect(row(page, "203.0.113.0/24")).to_have_count(0)

    page.get_by_role("button", name="Mark 192.0.2.0/24 reviewed").click()

    expect(page.get_by_role("status")).to_contain_text("Marked 192.0.2.0/24 reviewed")
    expect(row(page, "192.0.2.0/24")).to_have_count(0)  # the filter shows only unreviewed
    assert not AllowedNetwork.objects.get(cidr="192.0.2.0/24").needs_review


def test_viewer_sees_no_edit_controls(console_url, page, make_user):
    make_user("alice", "editor")
    make_user("victor", "viewer")
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, console_url, "victor")
    expect(page.locator(".top")).to_contain_text("viewer")
    expect(row(page, "203.0.113.0/24")).to_contain_text("Head office")
    for name in ("Add network", "Allow my current IP", "Sync now", "Preview"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(row(page, "203.0.113.0/24").get_by_role("button")).to_have_count(0)


def test_audit_log_shows_the_events_newest_first(console_url, page, make_user):
    alice = make_user("alice", "editor")
    alice.is_superuser = True  # sign-in events (auth.*) are shown to superusers only
    alice.save()
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    page.get_by_role("link", name="Audit log").click()
    audit = page.get_by_test_id("audit")
    expect(audit.locator('tr[data-action="network.allow"]')).to_contain_text("203.0.113.0/24")
    expect(audit.locator('tr[data-action="auth.login"]')).to_contain_text("alice")
    actions = audit.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions.index("network.allow") < actions.index("auth.login")

    page.get_by_label("Action").select_option("auth.login")
    expect(audit.locator("tbody tr")).to_have_count(1)
    expect(audit.locator("tbody tr")).to_have_attribute("data-action", "auth.login")


def test_sync_preview_shows_the_plan_and_sync_now_applies_it(console_url, page, make_user, waf):
    from accesscontrol.models import AllowedNetwork

    make_user("alice", "editor")
    # Written straight to the database: the IP sets have not seen it yet.
    AllowedNetwork.objects.create(cidr="192.0.2.0/24", ip_version=4, label="Lab")
    sign_in(page, console_url, "alice")
    page.get_by_role("button", name="Preview").click()
    dialog = page.get_by_role("dialog", name="Sync preview (dry run)")
    expect(dialog.locator(".plan-add")).to_contain_text("192.0.2.0/24")
    assert "192.0.2.0/24" not in waf.addresses(4)
    dialog.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status")).to_contain_text("Synced")
    expect(page.get_by_test_id("sync")).to_contain_text("In sync")
    assert "192.0.2.0/24" in waf.addresses(4)


def test_diagnostics_shows_api_reached_and_v1_blocked(console_url, page, console_errors):
    page.goto(console_url + "/#/diagnostics")
    page.get_by_role("button", name="Call /api/test1").click()
    api_result = page.get_by_test_id("result-/api/test1")
    expect(api_result).to_contain_text("Pass: Reached the backend")
    expect(api_result).to_contain_text("HTTP 200")
    expect(api_result).to_contain_text("This is /api/test1")
    page.get_by_role("button", name="Call /v1/test1").click()
    v1_result = page.get_by_test_id("result-/v1/test1")
    expect(v1_result).to_contain_text("Pass: Blocked")
    expect(v1_result).to_contain_text(re.compile(r"HTTP 40[34]"))
    assert unexpected(console_errors) == []
    assert all("/v1/test1" in e or "404" in e for e in console_errors)


def test_no_console_errors_on_any_page(console_url, page, make_user, console_errors):
    make_user("alice", "editor")
    page.goto(console_url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    for link, heading in (("Audit log", "Audit log"), ("Diagnostics", "Diagnostics")):
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    page.get_by_role("link", name="Allowlist").click()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("plan-set").first).to_be_visible()
    page.keyboard.press("Escape")
    assert console_errors == []


def test_narrow_screen_stacks_the_table_without_sideways_scrolling(console_url, page, make_user):
    make_user("alice", "editor")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, console_url, "alice")
    add_network(page, "2001:db8:1234::/48", "Remote team with a long descriptive label")
    expect(row(page, "2001:db8:1234::/48")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert row(page, "2001:db8:1234::/48").evaluate("r => getComputedStyle(r).display") == "block"


def test_allowlist_screenshot(console_url, page, make_user, tmp_path):
    """Also refreshes docs/allowlist.png for the README when GATEHOUSE_SCREENSHOTS=1."""
    make_user("alice", "editor")
    page.set_viewport_size({"width": 1280, "height": 760})
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office", "Reception and floors 1-3")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    add_network(page, "2001:db8:1234::/48", "Head office IPv6")
    expect(row(page, "2001:db8:1234::/48")).to_be_visible()
    page.get_by_role("button", name="Allow my current IP").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Temporary access").check()
    dialog.get_by_role("button", name="Allow this IP").click()
    expect(row(page, "127.0.0.1/32")).to_be_visible()
    target = SCREENSHOT if os.environ.get("GATEHOUSE_SCREENSHOTS") == "1" else tmp_path / "a.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dates_show_in_the_users_locale_and_time_zone(console_url, browser, make_user):
    make_user("alice", "editor")
    context = browser.new_context(locale="de-DE", timezone_id="America/New_York")
    page = context.new_page()
    sign_in(page, console_url, "alice")
    add_network(page, "203.0.113.0/24", "Head office")
    created = row(page, "203.0.113.0/24").locator('td[data-label="Created"] time')
    expect(created).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    # German month/day order and New York's zone name (EST or EDT, depending on the date).
    expect(created).to_have_text(re.compile(r"^\d{1,2}\. \w+\.? \d{4}.*\b(EST|EDT|GMT-[45])$"))
    context.close()


def test_sync_now_adopts_addresses_added_outside_gatehouse(console_url, page, make_user, waf):
    make_user("alice", "editor")
    # Someone adds an address in the AWS console (break-glass), not through Gatehouse.
    waf.edit(4, {"192.0.2.0/24"})
    sign_in(page, console_url, "alice")
    page.get_by_role("button", name="Sync now").click()
    expect(row(page, "192.0.2.0/24")).to_contain_text("adopted from WAF")
    expect(page.get_by_test_id("sync")).to_contain_text("Adopted from WAF")
    expect(page.get_by_test_id("sync")).to_contain_text("192.0.2.0/24")


def test_waf_failure_keeps_the_change_and_shows_pending(
    console_url, page, make_user, monkeypatch, console_errors
):
    from moto.wafv2.exceptions import WAFNonexistentItemException
    from moto.wafv2.models import WAFV2Backend

    def unavailable(self, *args, **kwargs):
        raise WAFNonexistentItemException()

    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    monkeypatch.setattr(WAFV2Backend, "update_ip_set", unavailable)
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("WAF update pending")
    expect(page.get_by_test_id("sync")).to_contain_text(re.compile("Pending|Failed"))
    expect(page.get_by_test_id("sync").locator(".sync-error")).not_to_be_empty()
    assert console_errors == []


def test_console_runs_under_the_edge_csp_without_violations(
    console_url, page, make_user, console_errors, csp_violations
):
    from accesscontrol.models import AllowedNetwork

    make_user("alice", "editor")
    # A network covering this machine but not its own /32, which would turn "Allow my
    # current IP" off (and this test opens that dialog too).
    AllowedNetwork.objects.create(cidr="127.0.0.0/8", ip_version=4, label="This machine")
    sign_in(page, console_url, "alice")
    for path in ("/", "/app.js", "/api/auth/session"):
        headers = page.request.get(console_url + path).headers
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path
    add_network(page, "203.0.113.0/24", "Head office")
    expect(row(page, "203.0.113.0/24")).to_be_visible()
    # Every dialog and screen: each renders (and styles) itself under the policy.
    row(page, "203.0.113.0/24").get_by_role("button", name="Edit").click()
    expect(page.get_by_role("dialog").first).to_be_visible()
    page.keyboard.press("Escape")
    row(page, "127.0.0.0/8").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("dialog").first).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Allow my current IP").click()
    expect(page.get_by_role("dialog").first).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("plan-set").first).to_be_visible()
    page.keyboard.press("Escape")
    for link, heading in (("Audit log", "Audit log"), ("Diagnostics", "Diagnostics")):
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    page.get_by_role("button", name="Call /api/test1").click()
    expect(page.get_by_test_id("result-/api/test1")).to_contain_text("HTTP 200")
    assert csp_violations() == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []
