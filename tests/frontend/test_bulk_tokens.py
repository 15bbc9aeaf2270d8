"""Bulk import (check, then confirm), export downloads and API tokens in a real browser."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.frontend.test_console import LOAD_FAILURE, sign_in

pytestmark = pytest.mark.browser


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if LOAD_FAILURE not in e]


def test_import_is_checked_line_by_line_then_confirmed_and_exported_again(
    console_url, page, make_user, waf, console_errors, csp_violations
):
    from accesscontrol.models import AllowedNetwork

    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    page.get_by_test_id("import-link").click()
    expect(page.get_by_role("heading", name="Import and export")).to_be_visible()

    form = page.get_by_test_id("import-form")
    form.get_by_label("Networks").fill("81.2.69.0/24\n\n81.2.70.1/24\n2a02:8010:1234::/48")
    form.get_by_label("Label", exact=True).fill("Branches")
    form.get_by_role("button", name="Check").click()

    refused = page.locator('tr[data-line="3"]')
    expect(refused).to_contain_text("refused")
    expect(refused).to_contain_text("81.2.70.0/24")  # the network to use instead
    expect(page.get_by_test_id("import-summary")).to_contain_text("3 lines, 2 valid, 1 refused")
    expect(form.get_by_role("button", name="Import the 2 valid ones")).to_be_visible()
    expect(form.get_by_role("button", name="Import all 2")).to_have_count(0)
    assert AllowedNetwork.objects.count() == 0  # checking saves nothing

    # Editing the text withdraws the offer: only what was checked can be confirmed.
    form.get_by_label("Networks").fill("81.2.69.0/24\n\n81.2.70.0/24\n2a02:8010:1234::/48")
    expect(form.get_by_role("button", name="Import the 2 valid ones")).to_have_count(0)
    form.get_by_role("button", name="Check").click()
    form.get_by_role("button", name="Import all 3").click()

    expect(page.get_by_test_id("import-summary")).to_contain_text("3 imported")
    assert sorted(AllowedNetwork.objects.values_list("cidr", flat=True)) == [
        "2a02:8010:1234::/48",
        "81.2.69.0/24",
        "81.2.70.0/24",
    ]
    assert waf.addresses(4) == {"81.2.69.0/24", "81.2.70.0/24"}

    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download CSV").click()
    download = downloaded.value
    assert download.suggested_filename == "gatehouse-allowlist.csv"
    lines = Path(download.path()).read_text().splitlines()
    assert lines[0] == "cidr,label,note,expires_at"
    assert sorted(lines[1:]) == [
        "2a02:8010:1234::/48,Branches,,",
        "81.2.69.0/24,Branches,,",
        "81.2.70.0/24,Branches,,",
    ]
    assert unexpected(console_errors) == []
    assert csp_violations() == []


def call(url: str, secret: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        assert json.loads(error.read())["error"]["code"] == "token_revoked"
        return int(error.code)


def test_an_editor_makes_a_token_uses_it_and_revokes_it(
    console_url, page, make_user, console_errors, csp_violations
):
    make_user("alice", "editor")
    sign_in(page, console_url, "alice")
    page.get_by_role("link", name="API tokens").click()

    form = page.get_by_test_id("token-form")
    # No role above the editor's own is offered (the expectation waits for the screen).
    expect(form.get_by_label("Role").locator("option")).to_have_text(["viewer", "editor"])
    form.get_by_label("Name").fill("ci-deploy")
    form.get_by_label("Role").select_option("editor")
    form.get_by_role("button", name="Make token").click()

    secret = page.get_by_test_id("token-value").input_value()
    assert secret.startswith("gh_")
    table = page.get_by_test_id("tokens")
    expect(table).to_contain_text("ci-deploy")
    expect(table).to_contain_text("active")
    assert call(f"{console_url}/api/networks", secret) == 200

    table.get_by_role("button", name="Revoke").click()
    expect(table).to_contain_text("revoked")
    assert call(f"{console_url}/api/networks", secret) == 401
    assert unexpected(console_errors) == []
    assert csp_violations() == []


def test_viewers_have_no_tokens_screen_and_only_export(console_url, page, make_user):
    make_user("victor", "viewer")
    sign_in(page, console_url, "victor")
    expect(page.get_by_role("link", name="API tokens")).to_have_count(0)
    expect(page.get_by_test_id("import-link")).to_have_text("Export")
