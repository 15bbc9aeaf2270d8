"""The second factor over the API: the code step after the password, enrolment (secret
shown only until confirmed), recovery codes (hashed, single use), lockout on wrong codes,
changes refused to a session that has not passed it, the sign-in method on audit events,
and the break-glass reset (command, Django admin)."""

import csv
import io

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accesscontrol import second_factor
from accesscontrol.audit import Requester
from accesscontrol.models import AllowedNetwork, AuditEvent, RecoveryCode
from tests.api.conftest import PASSWORD, alb_headers, make_user
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

CHANGES = [
    ("post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"}),
    ("post", "/api/networks/mine", {"label": "me"}),
    ("patch", "/api/networks/{id}", {"label": "renamed"}),
    ("delete", "/api/networks/{id}", None),
    ("post", "/api/sync", {"dry_run": True}),
    ("post", "/api/access-links", {"label": "Dana", "ttl_hours": 2}),
]


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The device's code now (or a later step, which the device's tolerance accepts once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    device = second_factor.start_enrolment(user=user)
    codes = second_factor.confirm_enrolment(user=user, code=code_for(device), requester=Requester())
    device.refresh_from_db()
    return device, codes


def password_client(username: str) -> Client:
    """A client through the real password step."""
    client = Client(**alb_headers())
    response = client.post(
        "/api/auth/login",
        {"username": username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return client


def verify(client: Client, code: str):
    return client.post(
        "/api/auth/second-factor/verify", {"code": code}, content_type="application/json"
    )


def send(client: Client, method: str, path: str, body):
    network = AllowedNetwork.objects.create(cidr="62.30.8.0/24", ip_version=4, label="n")
    path = path.format(id=network.pk)
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize("role", ["editor", "superuser"])
@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_change_endpoints_refuse_a_session_without_the_second_factor(
    make_client, waf, role, method, path, body
):
    client = make_client(role, second_factor=False)
    before = AuditEvent.objects.count()
    response = send(client, method, path, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_required"
    assert AuditEvent.objects.count() == before  # nothing happened
    assert AllowedNetwork.objects.filter(label="n").exists()


@pytest.mark.parametrize("role", ["editor", "superuser"])
def test_enrolled_user_at_the_password_step_may_read_but_not_change(make_client, waf, role):
    client = make_client(role, second_factor=False)
    enrolled(get_user_model().objects.get(username=role))
    assert client.get("/api/networks").status_code == 200
    session = client.get("/api/auth/session").json()
    assert session["second_factor"]["state"] == "code_required"
    response = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert response.json()["error"]["code"] == "second_factor_required"


def test_verified_session_may_change(make_client, waf):
    client = make_client("editor")  # marked as past the second factor
    response = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert response.status_code == 201


def test_requirement_off_lets_a_password_session_without_a_device_change(
    make_client, waf, settings
):
    settings.GATEHOUSE_REQUIRE_MFA = "off"
    client = make_client("editor", second_factor=False)
    response = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert response.status_code == 201
    assert AuditEvent.objects.get(action="network.allow").auth_method == "password"


def test_requirement_off_still_asks_an_enrolled_user_for_the_code(make_client, waf, settings):
    settings.GATEHOUSE_REQUIRE_MFA = "off"
    client = make_client("editor", second_factor=False)
    enrolled(get_user_model().objects.get(username="editor"))
    response = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert response.status_code == 403


def test_who_the_requirement_covers(settings):
    viewer, editor, root = make_user("viewer"), make_user("editor"), make_user("superuser")
    settings.GATEHOUSE_REQUIRE_MFA = "editors"
    assert [second_factor.requirement_covers(u) for u in (viewer, editor, root)] == [
        False,
        True,
        True,
    ]
    settings.GATEHOUSE_REQUIRE_MFA = "all"
    assert second_factor.requirement_covers(viewer)
    settings.GATEHOUSE_REQUIRE_MFA = "off"
    assert not second_factor.requirement_covers(root)


def test_sso_session_counts_as_past_the_second_factor(make_client, waf):
    client = make_client("editor", second_factor=False)
    enrolled(get_user_model().objects.get(username="editor"))
    session = client.session
    session[second_factor.AUTH_METHOD] = "sso:okta"
    session.save()
    response = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert response.status_code == 201
    assert AuditEvent.objects.get(action="network.allow").auth_method == "sso:okta"


def test_password_then_code_signs_in_and_audits_the_method(waf):
    user = make_user("editor")
    device, _ = enrolled(user)
    client = password_client("editor")
    assert client.get("/api/auth/session").json()["second_factor"]["state"] == "code_required"
    code = code_for(device, steps_ahead=1)  # enrolment used the current step's code
    assert verify(client, "000000" if code != "000000" else "111111").status_code == 400
    response = verify(client, code)
    assert response.status_code == 200
    assert response.json()["second_factor"] == {
        "state": "verified",
        "method": "password+totp",
        "enrolled": True,
        "required": True,
        "recovery_codes_left": 10,
    }
    added = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert added.status_code == 201
    methods = dict(AuditEvent.objects.values_list("action", "auth_method"))
    assert methods["auth.login"] == "password"
    assert methods["auth.second_factor"] == "password+totp"
    assert methods["network.allow"] == "password+totp"


def test_a_totp_code_works_once(waf):
    user = make_user("editor")
    device, _ = enrolled(user)
    code = code_for(device, steps_ahead=1)  # not the one enrolment used
    assert verify(password_client("editor"), code).status_code == 200
    replayed = verify(password_client("editor"), code)
    assert replayed.status_code == 400
    assert replayed.json()["error"]["code"] == "invalid_code"


def test_recovery_codes_are_stored_hashed_and_work_once(waf):
    user = make_user("editor")
    _, codes = enrolled(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert not stored & set(codes)
    assert all(len(h) == 64 for h in stored)

    first = password_client("editor")
    response = verify(first, codes[0].upper())  # read off paper: case does not matter
    assert response.status_code == 200
    assert response.json()["second_factor"]["method"] == "password+recovery"
    assert response.json()["second_factor"]["recovery_codes_left"] == 9

    again = verify(password_client("editor"), codes[0])
    assert again.status_code == 400
    assert verify(password_client("editor"), codes[1]).status_code == 200


def test_repeated_wrong_codes_lock_out_like_wrong_passwords(waf, settings):
    user = make_user("editor")
    device, _ = enrolled(user)
    client = password_client("editor")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert verify(client, "not-a-code").status_code == 400
    locked = verify(client, "not-a-code")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    assert AuditEvent.objects.filter(action="auth.lockout", subject="user:editor").exists()
    # The half-signed-in session is over, and the password step is locked too.
    assert client.get("/api/auth/session").json()["authenticated"] is False
    again = Client(**alb_headers()).post(
        "/api/auth/login",
        {"username": "editor", "password": PASSWORD},
        content_type="application/json",
    )
    assert again.status_code == 429


def test_the_password_step_does_not_reset_the_code_failures(waf, settings):
    user = make_user("editor")
    enrolled(user)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert verify(password_client("editor"), "not-a-code").status_code == 400
    # Each password_client signed in successfully in between: the count still stands.
    assert verify(password_client("editor"), "not-a-code").status_code == 429


def test_a_right_code_clears_the_failures(waf, settings):
    user = make_user("editor")
    device, _ = enrolled(user)
    client = password_client("editor")
    assert verify(client, "not-a-code").status_code == 400
    assert AccessAttempt.objects.filter(username="editor").exists()
    assert verify(client, code_for(device, steps_ahead=1)).status_code == 200
    assert not AccessAttempt.objects.filter(username="editor").exists()


def test_enrolment_shows_the_secret_until_confirmed_then_never(make_client, waf):
    client = make_client("editor", second_factor=False)
    state = client.get("/api/auth/session").json()["second_factor"]
    assert state["state"] == "enrolment_required"

    started = client.post("/api/auth/second-factor/totp", {}, content_type="application/json")
    assert started.status_code == 201
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Gatehouse%3Aeditor?secret=")
    assert body["secret"] in body["otpauth_uri"]
    qr = client.get(body["qr_svg_url"])
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr["Cache-Control"] == "no-store"
    assert qr.content.startswith(b"<svg") and b"<script" not in qr.content
    # Another session of the same user cannot read this enrolment's secret.
    other = make_client("editor", second_factor=False)
    assert other.get(body["qr_svg_url"]).status_code == 404

    device = TOTPDevice.objects.get(user__username="editor")
    wrong = client.post(
        "/api/auth/second-factor/totp/confirm", {"code": "12345"}, content_type="application/json"
    )
    assert wrong.status_code == 400
    confirmed = client.post(
        "/api/auth/second-factor/totp/confirm",
        {"code": code_for(device)},
        content_type="application/json",
    )
    assert confirmed.status_code == 200
    assert len(confirmed.json()["recovery_codes"]) == 10
    assert confirmed.json()["session"]["second_factor"]["state"] == "verified"
    assert AuditEvent.objects.filter(action="auth.second_factor_enrolled").exists()

    # Never again: not the QR code, not the secret, not the codes.
    assert client.get(body["qr_svg_url"]).status_code == 404
    status = client.get("/api/auth/second-factor").json()
    text = str(status) + str(client.get("/api/auth/session").json())
    assert body["secret"] not in text and 'recovery_codes"' not in text
    again = client.post("/api/auth/second-factor/totp", {}, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_code"
    # ...and the session may now change things.
    added = send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    assert added.status_code == 201


def test_re_enrolment_with_a_valid_code_replaces_the_device(make_client, waf):
    client = make_client("editor")
    user = get_user_model().objects.get(username="editor")
    old, _ = enrolled(user)
    started = client.post(
        "/api/auth/second-factor/totp",
        {"code": code_for(old, steps_ahead=1)},
        content_type="application/json",
    )
    assert started.status_code == 201
    new = TOTPDevice.objects.get(user=user, confirmed=False)
    confirmed = client.post(
        "/api/auth/second-factor/totp/confirm",
        {"code": code_for(new)},
        content_type="application/json",
    )
    assert confirmed.status_code == 200
    assert list(TOTPDevice.objects.filter(user=user).values_list("pk", flat=True)) == [new.pk]
    assert RecoveryCode.objects.filter(user=user).count() == 10


def test_reset_command_removes_the_factor_and_is_audited(waf):
    user = make_user("editor")
    enrolled(user)
    out = io.StringIO()
    call_command("reset_second_factor", "editor", "--reason", "lost phone", stdout=out)
    assert "Removed the second factor of editor" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="auth.second_factor_reset")
    assert event.actor_name.startswith("cli:") and event.reason == "lost phone"
    client = password_client("editor")
    assert client.get("/api/auth/session").json()["second_factor"]["state"] == (
        "enrolment_required"
    )


def test_superuser_resets_a_factor_in_the_django_admin(https_client, waf):
    root = make_user("superuser")
    user = make_user("editor")
    device, _ = enrolled(user)
    sign_in(https_client, root)
    url = f"/api/admin/otp_totp/totpdevice/{device.pk}/delete/"
    assert https_client.post(url, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="auth.second_factor_reset")
    assert event.actor_name == "superuser" and event.auth_method == "password+totp"


def test_django_admin_needs_the_second_factor(https_client):
    root = make_user("superuser")
    sign_in(https_client, root, second_factor=False)
    response = https_client.get("/api/admin/")
    assert response.status_code == 302 and "/api/admin/login/" in response["Location"]
    sign_in(https_client, root)
    assert https_client.get("/api/admin/").status_code == 200


def test_sign_in_again_and_sign_out_stay_open_at_the_password_step(waf):
    enrolled(make_user("editor"))
    client = password_client("editor")  # at the code step: changes refused...
    again = client.post(
        "/api/auth/login",
        {"username": "editor", "password": PASSWORD},
        content_type="application/json",
    )
    assert again.status_code == 200  # ...but not signing in again
    assert again.json()["second_factor"]["state"] == "code_required"
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/session").json()["authenticated"] is False


def test_audit_export_has_the_sign_in_method(make_client, waf):
    client = make_client("editor")
    send(client, "post", "/api/networks", {"cidr": "62.30.9.0/24", "label": "x"})
    rows = list(csv.reader(io.StringIO(b"".join(client.get("/api/audit/export")).decode())))
    assert rows[0][-1] == "auth_method"
    allowed = next(r for r in rows if r[2] == "network.allow")
    assert allowed[-1] == "password+totp"
