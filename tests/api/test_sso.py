"""Single sign-on against a real OpenID provider: the development provider
(django-oauth-toolkit, its own process, started once for this module). The person's part
at the provider is scripted with `requests`; Gatehouse's part runs through Django's test
client: start -> the provider's sign-in -> callback (code exchange over HTTP, ID token
validated through the provider's JWKS) -> signed in with the role the groups map to."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.api.conftest import EDGE_IP, PASSWORD, VIEWER_IP, alb_headers, cover, edge_headers
from tests.conftest import role_group
from tests.devidp import callback_path, sign_in_at_provider

START = "/api/auth/oidc/start"


@pytest.fixture
def sso(settings, dev_provider, db):
    from accesscontrol.oidc import forget_clients

    # The role groups, as migration 0002 made them (flushed by transactional tests).
    role_group("viewer")
    role_group("editor")
    settings.GATEHOUSE_OIDC = dev_provider.config()
    settings.GATEHOUSE_PASSWORD_LOGIN = "superusers"
    forget_clients()
    yield settings.GATEHOUSE_OIDC
    forget_clients()


def start(client):
    response = client.get(START)
    assert response.status_code == 302, response.content
    return response["Location"]


def sign_in(client, username, *, tamper=None):
    """The whole code flow for `username`; returns the callback's response."""
    redirect = sign_in_at_provider(start(client), username)
    path = callback_path(redirect)
    if tamper:
        path = tamper(path)
    return client.get(path)


def session(client):
    return client.get("/api/auth/session").json()


def post_csrf(client, path, body=None):
    """An unsafe request as the console sends it: the CSRF cookie's value as X-CSRFToken."""
    return client.post(
        path,
        body,
        content_type="application/json",
        headers={
            "x-csrftoken": client.cookies["csrftoken"].value,
            "referer": "https://testserver/",
        },
    )


def test_session_offers_single_sign_on_and_break_glass_passwords(make_client, sso):
    body = session(make_client())
    assert body["sign_in"] == {
        "password": "superusers",
        "sso": {"provider_name": "Dev IdP", "start_url": START},
    }
    assert body["sso_error"] is None


def test_session_without_single_sign_on_offers_passwords_only(make_client):
    body = session(make_client())
    assert body["sign_in"] == {"password": "on", "sso": None}


def test_start_sends_code_flow_with_pkce_state_and_nonce(make_client, sso, dev_provider):
    location = start(make_client())
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == dev_provider.issuer + "/authorize/"
    assert query["response_type"] == "code"
    assert query["client_id"] == dev_provider.client_id
    assert query["redirect_uri"] == sso.redirect_uri
    assert query["scope"] == "openid email profile groups"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url SHA-256, no padding
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20


def test_editor_group_signs_in_as_editor_and_is_audited(make_client, sso, waf):
    from django.contrib.auth import get_user_model

    from accesscontrol.models import AuditEvent, SingleSignOnIdentity

    client = make_client()
    response = sign_in(client, "alice")
    assert response.status_code == 302 and response["Location"] == "/"
    body = session(client)
    assert body["authenticated"] and body["sso_error"] is None
    assert body["user"]["username"] == "alice@example.com"
    assert body["user"]["role"] == "editor"
    assert client.session["gatehouse_auth_method"] == "sso:Dev IdP"
    user = get_user_model().objects.get(username="alice@example.com")
    assert not user.has_usable_password()  # the provider is the only way in
    identity = SingleSignOnIdentity.objects.get(user=user)
    assert identity.issuer == sso.issuer and identity.groups == ["gatehouse-editors"]
    event = AuditEvent.objects.get(action="auth.login")
    assert event.subject == "user:alice@example.com"
    assert event.after == {
        "method": "sso:Dev IdP",
        "role": "editor",
        "groups": ["gatehouse-editors"],
    }
    assert event.request_ip == VIEWER_IP
    # An editor may change the allowlist.
    created = client.post(
        "/api/networks", {"cidr": "81.2.70.0/24", "label": "sso"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content


def test_viewer_group_reads_but_cannot_change(make_client, sso):
    client = make_client()
    sign_in(client, "bob")
    assert session(client)["user"]["role"] == "viewer"
    assert client.get("/api/networks").status_code == 200
    refused = client.post(
        "/api/networks", {"cidr": "198.51.100.0/24", "label": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_no_mapped_group_signs_in_but_sees_and_changes_nothing(make_client, sso):
    from accesscontrol.models import AllowedNetwork

    client = make_client()
    sign_in(client, "carol")
    body = session(client)
    assert body["authenticated"] and body["user"]["role"] == "none"
    assert client.get("/api/networks").status_code == 403
    assert client.get("/api/audit").status_code == 403
    refused = client.post(
        "/api/networks", {"cidr": "198.51.100.0/24", "label": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert not AllowedNetwork.objects.exists()


def test_admins_group_makes_a_superuser(make_client, sso):
    client = make_client()
    sign_in(client, "dave")
    user = session(client)["user"]
    assert user["role"] == "superuser" and user["is_superuser"]


def test_roles_are_read_again_at_every_sign_in(make_client, sso, settings):
    from dataclasses import replace

    from django.contrib.auth import get_user_model

    from accesscontrol.models import AuditEvent

    sign_in(make_client(), "alice")
    # An admin also put her in the viewer group by hand; the provider's groups win.
    user = get_user_model().objects.get(username="alice@example.com")
    user.groups.add(role_group("viewer"))
    # Her group now maps to viewer only (as if she had moved to the viewers' group).
    settings.GATEHOUSE_OIDC = replace(sso, role_map={"gatehouse-editors": "viewer"})
    client = make_client()
    sign_in(client, "alice")
    assert session(client)["user"]["role"] == "viewer"
    assert sorted(user.groups.values_list("name", flat=True)) == ["viewer"]
    latest = AuditEvent.objects.filter(action="auth.login").latest("id")
    assert latest.before == {"role": "editor"} and latest.after["role"] == "viewer"
    assert "editor -> viewer" in latest.reason
    # ... and when none of her groups maps any more, the role is gone at the next sign-in.
    settings.GATEHOUSE_OIDC = replace(sso, role_map={"gatehouse-viewers": "viewer"})
    client = make_client()
    sign_in(client, "alice")
    assert session(client)["user"]["role"] == "none"


def test_without_a_role_map_roles_are_given_in_gatehouse(make_client, sso, settings):
    """Google's ID tokens carry no groups: the provider only says who it is."""
    from dataclasses import replace

    from django.contrib.auth import get_user_model

    settings.GATEHOUSE_OIDC = replace(sso, role_map={})
    client = make_client()
    sign_in(client, "alice")
    assert session(client)["user"]["role"] == "none"  # a new account has no role
    user = get_user_model().objects.get(username="alice@example.com")
    user.groups.add(role_group("editor"))  # an admin gives one in the Django admin
    client = make_client()
    sign_in(client, "alice")
    assert session(client)["user"]["role"] == "editor"  # and sign-in keeps it


def test_email_outside_allowed_domains_is_refused_with_a_message(make_client, sso):
    from django.contrib.auth import get_user_model

    from accesscontrol.models import AuditEvent

    client = make_client()
    response = sign_in(client, "mallory")
    assert response.status_code == 302 and response["Location"] == "/"
    body = session(client)
    assert not body["authenticated"]
    assert body["sso_error"]["code"] == "email_domain_not_allowed"
    assert body["sso_error"]["message"] == (
        "mallory@example.org is not allowed to sign in to Gatehouse: only addresses at "
        "example.com are."
    )
    assert session(client)["sso_error"] is None  # shown once
    assert not get_user_model().objects.filter(email="mallory@example.org").exists()
    event = AuditEvent.objects.get(action="auth.sso_refused")
    assert event.after["code"] == "email_domain_not_allowed" and event.after["refusals"] == 1


def test_tampered_state_is_refused_and_signs_nobody_in(make_client, sso):
    from accesscontrol.models import AuditEvent

    def tamper(path):
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = query["state"][:-4] + "AAAA"
        return f"{parts.path}?{urlencode(query)}"

    client = make_client()
    sign_in(client, "alice", tamper=tamper)
    body = session(client)
    assert not body["authenticated"]
    assert body["sso_error"]["code"] == "state_mismatch"
    assert "does not belong to a sign-in started in this browser" in body["sso_error"]["message"]
    event = AuditEvent.objects.get(action="auth.sso_refused")
    assert event.subject == "unknown user" and event.after["code"] == "state_mismatch"


def test_a_callback_works_once_and_only_in_the_browser_that_started(make_client, sso):
    client = make_client()
    redirect = sign_in_at_provider(start(client), "alice")
    # Someone else's browser (e.g. a link sent to a victim: login CSRF) gets nothing.
    other = make_client()
    other.get(callback_path(redirect))
    assert session(other)["sso_error"]["code"] == "state_mismatch"
    assert client.get(callback_path(redirect)).status_code == 302
    assert session(client)["authenticated"]
    # Replayed in the same browser: the state was used.
    session(client)
    post_csrf(client, "/api/auth/logout")
    client.get(callback_path(redirect))
    assert session(client)["sso_error"]["code"] == "state_mismatch"


def test_provider_error_is_shown_without_echoing_its_text(make_client, sso):
    client = make_client()
    location = start(client)
    state = parse_qs(urlsplit(location).query)["state"][0]
    query = urlencode(
        {"error": "access_denied", "error_description": "Call +1-555 now", "state": state}
    )
    client.get(f"/api/auth/oidc/callback?{query}")
    error = session(client)["sso_error"]
    assert error["code"] == "provider_error"
    assert error["message"] == (
        "Dev IdP refused the sign-in: you (or its policy) declined the sign-in."
    )


def test_existing_local_account_with_that_name_is_not_taken_over(make_client, sso):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("alice@example.com", "alice@example.com", "pw")
    client = make_client()
    sign_in(client, "alice")
    body = session(client)
    assert not body["authenticated"]
    assert body["sso_error"]["code"] == "username_taken"
    assert get_user_model().objects.get(username="alice@example.com").is_superuser


def test_deactivated_account_is_refused(make_client, sso):
    from django.contrib.auth import get_user_model

    sign_in(make_client(), "bob")
    get_user_model().objects.filter(username="bob@example.com").update(is_active=False)
    client = make_client()
    sign_in(client, "bob")
    body = session(client)
    assert not body["authenticated"] and body["sso_error"]["code"] == "account_disabled"


def test_sign_out_returns_the_providers_end_session_url(make_client, sso, dev_provider):
    client = make_client(csrf=True)
    sign_in(client, "alice")
    id_token = client.session["gatehouse_sso_id_token"]
    session(client)  # the CSRF cookie
    response = post_csrf(client, "/api/auth/logout")
    assert response.status_code == 200
    url = urlsplit(response.json()["end_session_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == dev_provider.issuer + "/logout/"
    assert query["id_token_hint"] == id_token
    assert query["post_logout_redirect_uri"] == "http://127.0.0.1:9/"
    assert query["client_id"] == dev_provider.client_id
    assert not session(client)["authenticated"]


def test_password_sign_out_still_answers_204(make_client, sso):
    client = make_client("editor", csrf=True)
    session(client)
    response = post_csrf(client, "/api/auth/logout")
    assert response.status_code == 204


def login(client, username):
    session(client)
    return post_csrf(client, "/api/auth/login", {"username": username, "password": PASSWORD})


def test_break_glass_passwords_are_for_superusers_only(make_client, sso):
    from tests.api.conftest import make_user

    make_user("editor")
    make_user("superuser")
    refused = login(make_client(csrf=True), "editor")
    assert refused.status_code == 401
    assert "for superusers only" in refused.json()["error"]["message"]
    assert login(make_client(csrf=True), "superuser").status_code == 200


def test_password_sign_in_turned_off(make_client, sso, settings):
    from tests.api.conftest import make_user

    settings.GATEHOUSE_PASSWORD_LOGIN = "off"
    make_user("superuser")
    refused = login(make_client(csrf=True), "superuser")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "password_login_off"
    assert session(make_client())["sign_in"]["password"] == "off"


def test_callback_behind_the_edge_needs_an_allowed_viewer(make_client, sso, through_edge):
    from django.test import Client

    cover(f"{VIEWER_IP}/32")
    allowed = Client(**edge_headers())
    assert allowed.get(START).status_code == 302
    outsider = Client(**edge_headers("203.0.113.9"))
    for path in (START, "/api/auth/oidc/callback?code=x&state=y"):
        refused = outsider.get(path)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "viewer_not_allowed"
    no_secret = Client(**{**alb_headers(), "REMOTE_ADDR": EDGE_IP})
    assert no_secret.get(START).status_code == 403


def test_endpoints_are_404_without_single_sign_on(make_client):
    client = make_client()
    for path in (START, "/api/auth/oidc/callback?code=x&state=y"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
