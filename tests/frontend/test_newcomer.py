"""A newcomer's trial of the console (issue 14), in a real browser: each test is one
surprise the trial found, and fails on the console as it was."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.frontend.conftest import PASSWORD
from tests.frontend.test_console import add_network, row, sign_in, unexpected

pytestmark = pytest.mark.browser


def add_form(page: Page):
    page.get_by_role("button", name="Add network").first.click()
    return page.get_by_role("form", name="Add a network")


def test_searching_an_address_finds_its_network_and_the_list_lives_in_the_url(
    console_url, page, make_user, console_errors
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "192.168.1.0/24", "Office LAN")
    expect(row(page, "192.168.1.0/24")).to_be_visible()
    add_network(page, "10.9.0.0/16", "Branch")
    expect(row(page, "10.9.0.0/16")).to_be_visible()

    page.get_by_label("Search").fill("192.168.1.60")
    expect(row(page, "10.9.0.0/16")).to_have_count(0)
    expect(row(page, "192.168.1.0/24")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/networks\?search=192\.168\.1\.60$"))
    page.reload()
    expect(page.get_by_label("Search")).to_have_value("192.168.1.60")
    expect(row(page, "192.168.1.0/24")).to_be_visible()
    expect(row(page, "10.9.0.0/16")).to_have_count(0)

    page.get_by_label("Search").fill("")
    expect(row(page, "10.9.0.0/16")).to_be_visible()
    label = page.locator('th[data-sort="label"]')
    label.get_by_role("button").click()
    expect(label).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tbody tr").first).to_have_attribute("data-cidr", "10.9.0.0/16")
    label.get_by_role("button").click()
    expect(label).to_have_attribute("aria-sort", "descending")
    expect(page.locator("tbody tr").first).to_have_attribute("data-cidr", "192.168.1.0/24")
    expect(page).to_have_url(re.compile(r"ordering=-label"))
    assert unexpected(console_errors) == []


def test_the_status_banner_clears_on_navigation(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    status = page.locator("#status")
    expect(status).to_contain_text("Signed in as alice")
    page.get_by_role("link", name="Audit log").click()
    expect(status).to_have_text("")


def test_the_status_banner_clears_after_a_while(console_url, page, make_user):
    make_user("alice", "editor")
    page.clock.install()
    sign_in(page, console_url, "alice")
    status = page.locator("#status")
    expect(status).to_contain_text("Signed in as alice")
    page.clock.run_for(10_000)
    expect(status).to_have_text("")


def test_drift_is_named_in_the_preview_and_the_header(console_url, page, make_user, waf):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "10.1.0.0/16", "Office")
    expect(row(page, "10.1.0.0/16")).to_be_visible()
    add_network(page, "10.2.0.0/16", "Lab")
    expect(row(page, "10.2.0.0/16")).to_be_visible()
    # Someone removes the lab in the WAF console.
    waf.edit(4, {"10.1.0.0/16"})

    page.get_by_role("button", name="Preview").click()
    dialog = page.get_by_role("dialog", name="Sync preview (dry run)")
    expect(dialog.get_by_test_id("drift")).to_contain_text("changed in WAF outside Gatehouse")
    expect(dialog).to_contain_text("Restore (drift: removed in WAF outside Gatehouse)")
    expect(dialog.locator(".plan-add h4", has_text=re.compile(r"^Add"))).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("sync")).to_contain_text("Drift")
    expect(page.get_by_test_id("sync")).to_contain_text("10.2.0.0/16 removed in WAF")

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_test_id("sync")).to_contain_text("Drift corrected at the last sync")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_test_id("audit")).to_contain_text(
        "had been removed in WAF outside Gatehouse"
    )


def test_the_audit_log_speaks_in_words_with_local_times_dates_and_csv(console_url, page, make_user):
    from django.core.management import call_command

    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "10.3.0.0/16", "Office (main)")
    expect(row(page, "10.3.0.0/16")).to_be_visible()
    call_command("allow_ip", "10.4.0.0/16", "--label", "Break glass", verbosity=0)

    page.get_by_role("link", name="Audit log").click()
    audit = page.get_by_test_id("audit")
    allowed = audit.locator('tr[data-action="network.allow"]')
    expect(allowed.first).to_contain_text("Network allowed")
    expect(allowed.first).to_contain_text("Allowed “Break glass”")
    expect(allowed.first).to_contain_text("command line (manage.py allow_ip)")
    expect(audit).not_to_contain_text("network.allow")
    expect(audit.locator("details pre").first).to_be_hidden()  # raw values only when opened
    expect(allowed.first.locator("time").first).to_have_attribute("title", re.compile(r" UTC$"))

    csv = page.get_by_test_id("audit-csv")
    expect(csv).to_have_attribute("href", re.compile(r"^/api/audit/export"))
    with page.expect_download() as download:
        csv.click()
    assert "10.4.0.0/16" in Path(download.value.path()).read_text()

    today = page.evaluate(
        "() => { const d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 10); }"
    )
    page.get_by_label("From").fill("2000-01-01")
    page.get_by_label("To").fill("2000-01-02")
    expect(page.get_by_text("No audit events match.")).to_be_visible()
    page.get_by_label("To").fill(today)
    expect(audit.locator('tr[data-action="network.allow"]')).to_have_count(2)


def test_allow_my_ip_is_offered_only_when_it_can_work(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    button = page.get_by_role("button", name="Allow my current IP")
    expect(button).to_be_enabled()
    button.click()
    page.get_by_role("dialog").get_by_role("button", name="Allow this IP").click()
    expect(row(page, "127.0.0.1/32")).to_be_visible()
    expect(button).to_be_disabled()
    expect(page.get_by_text("Your address is already listed as 127.0.0.1/32.")).to_be_visible()


def test_an_expiry_on_your_own_network_warns_when_it_expires(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "10.5.0.0/16", "Other")
    expect(row(page, "10.5.0.0/16")).to_be_visible()
    page.get_by_role("button", name="Allow my current IP").click()
    page.get_by_role("dialog").get_by_role("button", name="Allow this IP").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row(page, "127.0.0.1/32")).to_be_visible()
    page.get_by_role("button", name="Edit 127.0.0.1/32").click()
    dialog = page.get_by_role("dialog", name="Edit 127.0.0.1/32")
    expect(dialog.locator("code.cidr")).to_have_count(0)  # the title names it once
    dialog.get_by_label("Expiry").select_option("hours")
    dialog.get_by_label("Expires in (hours)").fill("2")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".warning")).to_contain_text("When it expires, you could no longer")
    expect(dialog.locator(".warning")).not_to_contain_text("WAF syncs")


def test_an_edge_block_says_how_to_recover(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    # What the edge answers once WAF no longer admits this address: its own 403 page.
    page.route(
        "**/api/networks?*",
        lambda route: route.fulfill(status=403, content_type="text/html", body="<h1>Blocked</h1>"),
    )
    page.get_by_role("link", name="Allowlist").click()
    page.reload()
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("The edge blocked this request")
    expect(alert).to_contain_text("allow_ip")
    expect(alert).not_to_contain_text("The server answered 403")


def test_diagnostics_link_works_after_signing_out_there(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    page.get_by_role("link", name="Diagnostics").click()
    expect(page.get_by_role("heading", name="Diagnostics")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    # Diagnostics is open to everyone: it stays; the header offers sign-in.
    expect(page.get_by_role("heading", name="Diagnostics")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Edge diagnostics").click()
    expect(page.get_by_role("heading", name="Diagnostics")).to_be_visible()


def test_a_user_without_a_role_is_told_to_ask_an_admin(console_url, page, transactional_db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("nora", "nora@example.com", PASSWORD)
    page.goto(console_url + "/#/networks")
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    notice = page.locator(".login .notice")
    expect(notice).to_contain_text("no role yet")
    expect(notice).to_contain_text("viewer or editor group")
    expect(page.get_by_text("Your role does not allow this")).to_have_count(0)


def test_viewers_are_told_they_have_read_only_access(console_url, page, make_user):
    make_user("victor", "viewer")
    sign_in(page, console_url, "victor")
    expect(page.get_by_test_id("read-only")).to_contain_text("read-only access")


def test_hours_have_one_limit_one_wording_a_date_picker_and_end_of_day(
    console_url, page, make_user
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    form = add_form(page)
    expect(form.get_by_text("Who or what this network is")).to_be_visible()  # before submitting
    form.get_by_label("CIDR").fill("10.6.0.0/16")
    form.get_by_label("Label").fill("Contractor")
    form.get_by_label("Temporary access").check()
    hours = form.get_by_label("Expires in (hours)")
    expect(hours).to_have_attribute("max", "8784")  # the server's limit, from the schema
    wording = "Enter a whole number of hours from 1 to 8,784 (366 days), or pick a date and time."
    for value in ("0", "100000"):
        hours.fill(value)
        form.get_by_role("button", name="Add network").click()
        expect(form.locator("#" + hours.get_attribute("id") + "-error")).to_have_text(wording)

    form.get_by_role("button", name="Until end of day").click()
    expect(form.get_by_label("Or expires at")).to_have_value(re.compile(r"T23:59$"))
    form.get_by_role("button", name="Add network").click()
    expect(row(page, "10.6.0.0/16").locator('td[data-label="Expires"] time')).to_be_visible()
    from accesscontrol.models import AllowedNetwork

    expires_at = AllowedNetwork.objects.get(cidr="10.6.0.0/16").expires_at
    local_end = page.evaluate(
        "() => { const d = new Date(); d.setHours(23, 59, 0, 0); return d.toISOString(); }"
    )
    assert expires_at.strftime("%Y-%m-%dT%H:%M") == local_end[:16]


def test_escape_closes_the_add_form(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    form = add_form(page)
    form.get_by_label("CIDR").fill("10.7.0.0/16")
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    expect(page.get_by_role("button", name="Add network")).to_be_focused()


def test_remove_text_quotes_the_label(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "10.8.0.0/16", "Alice (home)")
    page.get_by_role("button", name="Remove 10.8.0.0/16").click()
    dialog = page.get_by_role("dialog", name="Remove network")
    expect(dialog).to_contain_text("“Alice (home)”")
    expect(dialog).not_to_contain_text("((")
    expect(dialog).not_to_contain_text("))")


def test_superusers_find_the_branded_django_admin(console_url, page, transactional_db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    sign_in(page, console_url, "root")
    page.get_by_test_id("django-admin").click()
    expect(page).to_have_title(re.compile("Gatehouse administration"))
    expect(page.locator("#site-name")).to_contain_text("Gatehouse administration")


def test_editors_get_no_django_admin_link(console_url, page, make_user):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    expect(page.get_by_test_id("django-admin")).to_have_count(0)


def test_the_allowlists_first_render_stays_under_40_kb_and_a_dialog_brings_its_styles(
    console_url, page, make_user, console_errors
):
    """README: a first render costs at most 40 KB of HTML + JS + CSS. The allowlist's
    leaves out the sign-in screens' rules (login.css) and those of dialogs, forms and the
    other screens (more.css); a dialog waits for its rules, so it never shows unstyled,
    and Escape still closes it and gives the focus back."""
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    add_network(page, "10.7.0.0/16", "Lab")
    expect(row(page, "10.7.0.0/16")).to_be_visible()

    static = {}

    def seen(response):
        path = response.url.split("?")[0].removeprefix(console_url)
        if not path.startswith("/api/") and (path == "/" or path.endswith((".js", ".css"))):
            static[path] = len(response.body())

    page.on("response", seen)
    page.reload()
    expect(row(page, "10.7.0.0/16")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", seen)
    assert "/views/networks.js" in static
    assert "/login.css" not in static and "/more.css" not in static
    assert sum(static.values()) <= 40 * 1024, static

    edit = page.get_by_role("button", name="Edit 10.7.0.0/16")
    edit.click()
    dialog = page.get_by_role("dialog", name="Edit 10.7.0.0/16")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_css("border-radius", "12px")  # more.css, there before the dialog
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(edit).to_be_focused()
    assert unexpected(console_errors) == []


def test_the_add_form_loads_on_first_use_and_a_click_waits_for_it(
    console_url, page, make_user, console_errors
):
    """The allowlist's first render stays small (README: at most 40 KB): the add form and
    the expiry helpers load when "Add network" is clicked, and a click made while they
    are still on the way opens the form once they arrive, focused, instead of being lost."""
    make_user("alice", "editor")
    scripts = []
    page.on("request", lambda r: scripts.append(r.url.rsplit("/", 1)[-1]))
    sign_in(page, console_url, "alice")
    expect(page.get_by_role("heading", name="Allowlist")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert "add.js" not in scripts and "forms.js" not in scripts

    held = []
    page.route("**/views/add.js", lambda route: held.append(route))  # held until released
    toggle = page.get_by_role("button", name="Add network").first
    toggle.click()
    toggle.click()  # a second, impatient click must not close what the first one opens
    expect(page.get_by_role("form", name="Add a network")).to_have_count(0)
    for _ in range(50):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()
    form = page.get_by_role("form", name="Add a network")
    expect(form.get_by_label("CIDR")).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    form.get_by_label("CIDR").fill("10.5.0.0/16")
    form.get_by_label("Label").fill("Lab")
    form.get_by_role("button", name="Add network").click()
    expect(row(page, "10.5.0.0/16")).to_be_visible()
    assert unexpected(console_errors) == []
