"""Single sign-on in the browser, the whole authorization code flow: Chromium clicks "Sign
in with Dev IdP" in the console, signs in at the development OpenID provider (its own
process: tests/devidp.py) and comes back through the callback signed in, with the role its
groups map to. (Token validation refusals, wrong audience and expiry, are API tests in
tests/api/test_sso_tokens.py, where a test provider can sign any token.)"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from accesscontrol.oidc_config import CALLBACK_PATH
from deploy.localstack.oidc_provider import DEMO_PASSWORD
from tests.conftest import role_group

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_console(console_url, settings, dev_provider):
    from accesscontrol.oidc import forget_clients

    role_group("viewer")
    role_group("editor")
    settings.GATEHOUSE_OIDC = dev_provider.config(redirect_uri=console_url + CALLBACK_PATH)
    settings.GATEHOUSE_PASSWORD_LOGIN = "superusers"
    forget_clients()
    yield console_url
    forget_clients()


def sso_sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/#/networks")
    page.get_by_role("link", name="Sign in with Dev IdP").click()
    expect(page.get_by_role("heading", name="Development identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_page_offers_the_provider_and_break_glass(sso_console, page, csp_violations):
    page.goto(sso_console)
    expect(page.get_by_role("link", name="Sign in with Dev IdP")).to_be_visible()
    # Passwords are for superusers only: folded away, one click to open.
    expect(page.get_by_label("Username")).to_be_hidden()
    page.get_by_text("Administrator sign-in (break-glass)").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert csp_violations() == []


def test_editor_group_signs_in_as_editor(sso_console, page, console_errors):
    sso_sign_in(page, sso_console, "alice")
    expect(page.get_by_test_id("user")).to_have_text("alice@example.com")
    expect(page.locator(".top")).to_contain_text("editor")
    expect(page.get_by_role("heading", name="Allowlist")).to_be_visible()
    expect(page.get_by_test_id("read-only")).to_have_count(0)
    assert console_errors == []


def test_viewer_group_signs_in_read_only(sso_console, page):
    sso_sign_in(page, sso_console, "bob")
    expect(page.get_by_test_id("user")).to_have_text("bob@example.com")
    expect(page.get_by_test_id("read-only")).to_be_visible()


def test_no_mapped_group_signs_in_but_gets_no_role(sso_console, page):
    from django.contrib.auth import get_user_model

    sso_sign_in(page, sso_console, "carol")
    expect(page.locator(".notice")).to_contain_text(
        "You signed in as carol@example.com, but your account has no role yet. Ask an admin "
        "to add you to a Dev IdP group that Gatehouse maps to viewer or editor"
    )
    expect(page.get_by_test_id("user")).to_have_count(0)
    carol = get_user_model().objects.get(username="carol@example.com")
    assert not carol.groups.exists() and not carol.is_superuser


def test_email_outside_allowed_domains_is_refused_with_the_reason(sso_console, page):
    sso_sign_in(page, sso_console, "mallory")
    expect(page.get_by_role("alert")).to_have_text(
        "mallory@example.org is not allowed to sign in to Gatehouse: only addresses at "
        "example.com are."
    )
    expect(page.get_by_test_id("user")).to_have_count(0)


def test_tampered_state_is_refused(sso_console, page):
    # Playwright routes no redirect hops, so the state is changed where it is first sent:
    # in Gatehouse's redirect to the provider, which hands it back to the callback as is.
    def tamper(route):
        response = route.fetch(max_redirects=0)
        parts = urlsplit(response.headers["location"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "tampered-" + query["state"]
        location = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
        route.fulfill(response=response, headers={**response.headers, "location": location})

    page.route("**/api/auth/oidc/start", tamper)
    sso_sign_in(page, sso_console, "alice")
    expect(page.get_by_role("alert")).to_contain_text(
        "does not belong to a sign-in started in this browser"
    )
    expect(page.get_by_test_id("user")).to_have_count(0)


def test_sign_out_ends_the_providers_session_too(sso_console, page):
    sso_sign_in(page, sso_console, "alice")
    expect(page.get_by_test_id("user")).to_have_text("alice@example.com")
    page.get_by_role("button", name="Sign out").click()
    # The provider ends its session and sends the browser back to the console.
    expect(page.get_by_role("link", name="Sign in with Dev IdP")).to_be_visible()
    assert page.url.startswith(sso_console)
    # Signing in again asks for the password again: the provider's session is gone.
    page.get_by_role("link", name="Sign in with Dev IdP").click()
    expect(page.get_by_role("heading", name="Development identity provider")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
