"""Role matrix: every endpoint and method for anonymous, no-role, viewer, editor and
superuser, with valid CSRF tokens (so only the role decides), plus CSRF refusals."""

import json

import pytest

from accesscontrol.models import AllowedNetwork

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "nobody", "viewer", "editor", "superuser")
READ = {"anonymous": 401, "nobody": 403, "viewer": 200, "editor": 200, "superuser": 200}


def write(ok: int) -> dict:
    return {"anonymous": 401, "nobody": 403, "viewer": 403, "editor": ok, "superuser": ok}


# (method, path, JSON body or None, expected status by role)
MATRIX = [
    ("GET", "/api/auth/session", None, dict.fromkeys(ROLES, 200)),
    ("POST", "/api/auth/logout", None, dict.fromkeys(ROLES, 204)),
    ("GET", "/api/schema", None, dict.fromkeys(ROLES, 200)),
    ("GET", "/api/me", None, READ),
    ("GET", "/api/networks", None, READ),
    ("POST", "/api/networks", {"cidr": "62.30.113.0/24", "label": "New"}, write(201)),
    ("POST", "/api/networks/mine", {"ttl_hours": 1}, write(201)),
    ("GET", "/api/networks/{target}", None, READ),
    ("PATCH", "/api/networks/{target}", {"label": "Renamed"}, write(200)),
    ("DELETE", "/api/networks/{target}", None, write(204)),
    ("GET", "/api/sync", None, READ),
    ("POST", "/api/sync", {"dry_run": True}, write(200)),
    ("GET", "/api/audit", None, READ),
]


@pytest.fixture
def target(db):
    """A network to read/edit/remove, and an office one, so no guard interferes."""
    AllowedNetwork.objects.create(cidr="81.2.69.0/24", ip_version=4, label="Office")
    return AllowedNetwork.objects.create(cidr="62.30.112.0/24", ip_version=4, label="Branch")


def csrf_headers(client) -> dict:
    client.get("/api/auth/session")
    return {"x-csrftoken": client.cookies["csrftoken"].value, "referer": "https://testserver/"}


def call(client, method, path, body, headers):
    return client.generic(
        method,
        path,
        data=b"" if body is None else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def snapshot():
    return sorted(AllowedNetwork.objects.values_list("cidr", "label", "expires_at"))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_role_matrix(make_client, waf, target, role, method, path, body, expected):
    client = make_client(role, csrf=True)
    headers = csrf_headers(client)
    before = snapshot()
    response = call(client, method, path.format(target=target.pk), body, headers)
    assert response.status_code == expected[role], response.content
    if response.status_code in (401, 403):
        error = response.json()["error"]
        assert error["code"] == (
            "not_authenticated" if role == "anonymous" else "permission_denied"
        )
        assert snapshot() == before  # a refused request changes nothing


UNSAFE = [(m, p, b) for m, p, b, e in MATRIX if m not in ("GET",) and e["editor"] < 300]


@pytest.mark.parametrize(("method", "path", "body"), UNSAFE, ids=[f"{m} {p}" for m, p, _ in UNSAFE])
def test_signed_in_unsafe_methods_without_csrf_token_are_refused(
    make_client, waf, target, method, path, body
):
    client = make_client("superuser", csrf=True)
    before = snapshot()
    response = call(
        client, method, path.format(target=target.pk), body, {"referer": "https://testserver/"}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert snapshot() == before


def test_a_viewer_cannot_escalate_through_the_admin(make_client):
    for role in ("viewer", "editor"):
        response = make_client(role).get("/api/admin/auth/user/")
        assert response.status_code == 302  # to the admin login: not staff
    assert make_client("superuser").get("/api/admin/auth/user/").status_code == 200


def test_an_inactive_user_is_treated_as_signed_out(make_client):
    from django.contrib.auth import get_user_model

    client = make_client("editor")
    get_user_model().objects.filter(username="editor").update(is_active=False)
    assert client.get("/api/networks").status_code == 401
    assert client.get("/api/auth/session").json()["authenticated"] is False
