"""Two-step sign-in in a real browser: enrolment from the console (QR code as SVG, the key
read off the page, codes computed with django-otp's TOTP), the code step, a wrong code, a
recovery code working once, and the lockout after repeated wrong codes. Production's
requirement is on here (GATEHOUSE_REQUIRE_MFA=editors); the harness turns it off for the
other browser tests, as the local stack does."""

from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tests.frontend.conftest import PASSWORD

pytestmark = pytest.mark.browser

LOAD_FAILURE = "Failed to load resource"  # the browser logs each 4xx it was meant to get


@pytest.fixture
def mfa_required(console_url, settings):
    settings.GATEHOUSE_REQUIRE_MFA = "editors"
    return console_url


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for this key now (or `steps_ahead` steps later:
    a code is accepted once, so a second sign-in within 30 s uses the next one)."""
    key = b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = totp.time + 30 * steps_ahead
    return f"{totp.token():06d}"


def password_step(page: Page, url: str, username: str) -> None:
    page.goto(url + "/#/networks")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def enrol_in_python(username: str) -> tuple[str, list[str]]:
    from django.contrib.auth import get_user_model

    from accesscontrol import second_factor
    from accesscontrol.audit import Requester

    user = get_user_model().objects.get(username=username)
    device = second_factor.start_enrolment(user=user)
    secret = second_factor.enrolment_details(device)["secret"]
    codes = second_factor.confirm_enrolment(user=user, code=code(secret), requester=Requester())
    return secret, codes


def test_enrol_from_the_console_then_sign_in_with_a_code(
    mfa_required, page, make_user, console_errors, csp_violations
):
    make_user("alice", "editor")
    password_step(page, mfa_required, "alice")

    # The enrolment screen and nothing else: no navigation, no allowlist.
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    qr = page.get_by_test_id("totp-qr")
    expect(qr).to_be_visible()
    # The SVG the server rendered loaded as an image (decode() fails for a broken one).
    assert qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    secret = page.get_by_test_id("totp-secret").inner_text()

    page.get_by_label("Code from the app").fill("000000" if code(secret) != "000000" else "1")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".field-error")).to_contain_text("not valid")
    page.get_by_label("Code from the app").fill(code(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("button", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", name="Allowlist")).to_be_visible()
    expect(page.get_by_test_id("user")).to_have_text("alice")

    # Sign out and in again: the code step, a wrong code refused, then the right one.
    page.get_by_role("button", name="Sign out").click()
    password_step(page, mfa_required, "alice")
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.get_by_label("Code").fill("123")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".field-error")).to_contain_text("not valid")
    page.get_by_label("Code").fill(code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("user")).to_have_text("alice")
    expect(page.get_by_role("heading", name="Allowlist")).to_be_visible()

    from accesscontrol.models import AuditEvent

    assert AuditEvent.objects.filter(action="auth.second_factor", auth_method="password+totp")
    assert [e for e in console_errors if LOAD_FAILURE not in e] == []
    assert csp_violations() == []


def test_a_recovery_code_works_once(mfa_required, page, make_user):
    make_user("bob", "editor")
    _, codes = enrol_in_python("bob")
    password_step(page, mfa_required, "bob")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("user")).to_have_text("bob")

    page.get_by_role("button", name="Sign out").click()
    password_step(page, mfa_required, "bob")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".field-error")).to_contain_text("not valid")
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()


def test_repeated_wrong_codes_lock_the_sign_in(mfa_required, page, make_user, settings):
    make_user("carol", "editor")
    secret, _ = enrol_in_python("carol")
    password_step(page, mfa_required, "carol")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Code").fill(f"00000{attempt}")
        page.get_by_role("button", name="Verify").click()
        if attempt < settings.AXES_FAILURE_LIMIT - 1:
            expect(page.locator(".field-error")).to_contain_text("not valid")
    # Locked out: back at the password form, told when to retry; the right code is too late.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Too many wrong codes")).to_be_visible()
    password_step(page, mfa_required, "carol")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
