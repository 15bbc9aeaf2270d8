"""Signing in and out: the session endpoint, CSRF on login, throttling with django-axes."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accesscontrol.models import AuditEvent
from tests.api.conftest import PASSWORD, VIEWER_IP, alb_headers, make_user
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def csrf_client(viewer: str = VIEWER_IP) -> tuple[Client, str]:
    """A browser-like client that enforces CSRF, with the token from GET /api/auth/session."""
    client = Client(enforce_csrf_checks=True, **alb_headers(viewer))
    response = client.get("/api/auth/session")
    assert response.status_code == 200
    return client, response.cookies["csrftoken"].value


def login(client: Client, token: str, username: str, password: str):
    return client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
        headers={"x-csrftoken": token, "referer": "https://testserver/"},
    )


def test_session_when_anonymous_sets_csrf_cookie_and_reports_viewer_ip():
    client = Client(**alb_headers())
    response = client.get("/api/auth/session")
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": False,
        "user": None,
        "viewer_ip": VIEWER_IP,
        "sign_in": {"password": "on", "sso": None},
        "sso_error": None,
        "second_factor": None,
    }
    assert response.cookies["csrftoken"].value
    assert not response.cookies["csrftoken"]["httponly"]


def test_login_with_csrf_token_signs_in_and_reports_role():
    make_user("editor")
    client, token = csrf_client()
    response = login(client, token, "editor", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["authenticated"] is True
    assert body["user"]["username"] == "editor"
    assert body["user"]["role"] == "editor"
    assert body["user"]["is_superuser"] is False
    assert client.get("/api/auth/session").json()["authenticated"] is True
    event = AuditEvent.objects.get(action="auth.login")
    assert event.request_ip == VIEWER_IP
    assert event.user_agent == "pytest-browser/1.0"
    assert event.actor_name == "editor"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", "viewer"), ("editor", "editor"), ("superuser", "superuser"), ("none", "none")],
)
def test_session_reports_each_role(make_client, role, expected):
    if role == "none":
        user = get_user_model().objects.create_user("plain", password=PASSWORD)
        client = make_client()
        sign_in(client, user)
    else:
        client = make_client(role)
    assert client.get("/api/auth/session").json()["user"]["role"] == expected


def test_login_without_csrf_token_is_refused():
    make_user("editor")
    client, _ = csrf_client()
    response = client.post(
        "/api/auth/login",
        {"username": "editor", "password": PASSWORD},
        content_type="application/json",
        headers={"referer": "https://testserver/"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in response.json()["error"]["message"]
    assert client.get("/api/auth/session").json()["authenticated"] is False


def test_login_from_a_foreign_referer_is_refused():
    make_user("editor")
    client, token = csrf_client()
    response = client.post(
        "/api/auth/login",
        {"username": "editor", "password": PASSWORD},
        content_type="application/json",
        headers={"x-csrftoken": token, "referer": "https://evil.example/"},
    )
    assert response.status_code == 403


def test_wrong_password_is_401_invalid_credentials_and_audited():
    make_user("editor")
    client, token = csrf_client()
    response = login(client, token, "editor", "wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert "WWW-Authenticate" not in response.headers
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.subject == "user:editor"
    assert event.request_ip == VIEWER_IP
    assert event.actor is None


def test_login_with_missing_fields_is_400_with_field_messages():
    client, token = csrf_client()
    response = client.post(
        "/api/auth/login",
        {"username": "editor"},
        content_type="application/json",
        headers={"x-csrftoken": token, "referer": "https://testserver/"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "password" in response.json()["error"]["fields"]


def test_five_failures_lock_out_with_retry_after_and_audit(settings):
    make_user("editor")
    client, token = csrf_client()
    statuses = [login(client, token, "editor", f"wrong-{i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 401]

    fifth = login(client, token, "editor", "wrong-5")
    assert fifth.status_code == 429
    error = fifth.json()["error"]
    assert error["code"] == "locked_out"
    assert 14 * 60 < error["retry_after_seconds"] <= 15 * 60
    assert fifth["Retry-After"] == str(error["retry_after_seconds"])
    assert AuditEvent.objects.filter(action="auth.lockout", subject="user:editor").count() == 1

    # Even the right password is refused while locked out, and that is audited too.
    locked = login(client, token, "editor", PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    assert client.get("/api/auth/session").json()["authenticated"] is False
    # Five failures and one refusal: one aggregated event for this user and address.
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.after["failures"] == 5
    assert failed.after["refused_while_locked_out"] == 1


def test_lockout_is_per_viewer_ip_not_per_proxy_address():
    make_user("editor")
    client, token = csrf_client(viewer="81.2.69.142")
    for i in range(5):
        login(client, token, "editor", f"wrong-{i}")
    assert login(client, token, "editor", PASSWORD).status_code == 429

    # Same ALB (REMOTE_ADDR), same edge, another viewer: not locked.
    other, other_token = csrf_client(viewer="203.0.113.9")
    assert login(other, other_token, "editor", PASSWORD).status_code == 200


def test_spoofed_left_most_forwarded_for_cannot_dodge_the_lockout():
    make_user("editor")
    client, token = csrf_client()
    for i in range(5):
        login(client, token, "editor", f"wrong-{i}")
    # The client writes the left-most entry; CloudFront and the ALB append the real ones.
    client.defaults["HTTP_X_FORWARDED_FOR"] = f"192.0.2.66, {VIEWER_IP}, 10.0.0.5"
    assert login(client, token, "editor", PASSWORD).status_code == 429


def test_successful_login_resets_failures():
    make_user("editor")
    client, token = csrf_client()
    for i in range(4):
        login(client, token, "editor", f"wrong-{i}")
    assert login(client, token, "editor", PASSWORD).status_code == 200
    client, token = csrf_client()
    for i in range(4):
        assert login(client, token, "editor", f"wrong-{i}").status_code == 401


def test_logout_ends_session_answers_204_and_is_audited():
    make_user("viewer")
    client, token = csrf_client()
    assert login(client, token, "viewer", PASSWORD).status_code == 200
    token = client.cookies["csrftoken"].value  # rotated at login
    response = client.post(
        "/api/auth/logout", headers={"x-csrftoken": token, "referer": "https://testserver/"}
    )
    assert response.status_code == 204
    assert client.get("/api/auth/session").json()["authenticated"] is False
    assert AuditEvent.objects.filter(action="auth.logout", actor_name="viewer").count() == 1


def test_logout_without_csrf_token_is_refused_and_keeps_session():
    make_user("viewer")
    client, token = csrf_client()
    login(client, token, "viewer", PASSWORD)
    response = client.post("/api/auth/logout", headers={"referer": "https://testserver/"})
    assert response.status_code == 403
    assert client.get("/api/auth/session").json()["authenticated"] is True
