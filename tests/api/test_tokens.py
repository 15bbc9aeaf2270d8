"""API tokens: who may make which, how a token request acts (its role exactly, audited as
token:<name>), where tokens never work, revocation, expiry and the creator's role."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accesscontrol.audit import Requester
from accesscontrol.models import AllowedNetwork, ApiToken, AuditEvent
from accesscontrol.tokens import create_api_token
from tests.api.conftest import alb_headers, cover, edge_headers
from tests.conftest import role_group

pytestmark = pytest.mark.django_db

TOKENS = "/api/tokens"


@pytest.fixture(autouse=True)
def role_groups(db):
    """A token acts with its role's group: the migration makes both groups, but a
    transactional test elsewhere in this process may have flushed them."""
    role_group("viewer")
    role_group("editor")


NETWORKS = "/api/networks"


def make_token(make_client, creator: str, role: str, *, name: str = "ci", days: int = 30):
    response = make_client(creator).post(
        TOKENS,
        json.dumps({"name": name, "role": role, "expires_in_days": days}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def bearer(secret: str, **headers) -> Client:
    """A client with no session at all: only the token."""
    return Client(**alb_headers(), HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)


def add_network(client: Client, cidr: str = "81.2.69.0/24"):
    return client.post(
        NETWORKS, json.dumps({"cidr": cidr, "label": "By script"}), content_type="application/json"
    )


ALLOWED = {
    ("editor", "viewer"),
    ("editor", "editor"),
    ("superuser", "viewer"),
    ("superuser", "editor"),
    ("superuser", "superuser"),
}


@pytest.mark.parametrize("token_role", ["viewer", "editor", "superuser"])
@pytest.mark.parametrize("creator", ["anonymous", "nobody", "viewer", "editor", "superuser"])
def test_a_token_role_is_never_above_its_creators(make_client, creator, token_role):
    response = make_client(creator).post(
        TOKENS,
        json.dumps({"name": "ci", "role": token_role, "expires_in_days": 30}),
        content_type="application/json",
    )
    if creator == "anonymous":
        assert response.status_code == 401
    elif creator in ("nobody", "viewer"):
        assert response.status_code == 403
    elif (creator, token_role) in ALLOWED:
        assert response.status_code == 201
        assert response.json()["role"] == token_role
    else:
        assert response.status_code == 400
        assert "above your own" in response.json()["error"]["fields"]["role"][0]
    made = ApiToken.objects.count()
    assert made == (1 if (creator, token_role) in ALLOWED else 0)


@pytest.mark.parametrize("days", [0, 366, "30", None])
def test_the_expiry_is_required_and_bounded(make_client, days):
    body = {"name": "ci", "role": "viewer"}
    if days is not None:
        body["expires_in_days"] = days
    response = make_client("editor").post(TOKENS, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "expires_in_days" in response.json()["error"]["fields"]
    assert ApiToken.objects.count() == 0


def test_only_the_hash_is_stored_and_the_token_is_shown_once(make_client):
    made = make_token(make_client, "editor", "viewer", name="ci-deploy")
    secret = made["token"]

    stored = ApiToken.objects.get()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    listed = make_client("editor").get(TOKENS).json()
    assert [t["name"] for t in listed] == ["ci-deploy"] and "token" not in listed[0]
    assert listed[0]["prefix"] == secret[:10]
    event = AuditEvent.objects.get(action="token.create")
    assert (event.actor_name, event.subject) == ("editor", "token:ci-deploy")


def test_two_live_tokens_cannot_share_a_name(make_client):
    made = make_token(make_client, "editor", "viewer", name="ci")
    again = make_client("editor").post(
        TOKENS,
        json.dumps({"name": "ci", "role": "viewer", "expires_in_days": 1}),
        content_type="application/json",
    )
    assert again.status_code == 400 and "name" in again.json()["error"]["fields"]

    make_client("editor").delete(f"{TOKENS}/{made['id']}")
    make_token(make_client, "editor", "viewer", name="ci")  # free again once revoked


def test_a_viewer_token_reads_but_cannot_change(make_client, waf):
    secret = make_token(make_client, "editor", "viewer")["token"]
    client = bearer(secret)

    assert client.get(NETWORKS).status_code == 200
    assert add_network(client).status_code == 403
    me = client.get("/api/me").json()
    assert me["user"]["username"] == "token:ci" and me["user"]["role"] == "viewer"


def test_an_editor_token_changes_without_csrf_and_is_audited_by_name(make_client, waf):
    secret = make_token(make_client, "editor", "editor", name="terraform")["token"]
    # CSRF is enforced for sessions; a bearer request has no cookie to forge.
    client = Client(
        enforce_csrf_checks=True, **alb_headers(), HTTP_AUTHORIZATION=f"Bearer {secret}"
    )

    response = add_network(client)

    assert response.status_code == 201, response.json()
    network = AllowedNetwork.objects.get()
    assert network.created_by is None  # a token is no user row
    event = AuditEvent.objects.get(action="network.allow")
    assert (event.actor_name, event.actor, event.auth_method) == ("token:terraform", None, "token")
    assert waf.addresses(4) == {"81.2.69.0/24"}


def test_only_a_superuser_token_widens_beyond_the_minimum_prefix(make_client, waf):
    editor_token = make_token(make_client, "superuser", "editor", name="e")["token"]
    super_token = make_token(make_client, "superuser", "superuser", name="s")["token"]

    assert add_network(bearer(editor_token), "81.0.0.0/8").status_code == 400
    assert add_network(bearer(super_token), "81.0.0.0/8").status_code == 201


def test_a_revoked_token_is_refused_and_the_revocation_audited(make_client):
    made = make_token(make_client, "editor", "viewer")
    assert bearer(made["token"]).get(NETWORKS).status_code == 200

    revoked = make_client("editor").delete(f"{TOKENS}/{made['id']}")

    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    response = bearer(made["token"]).get(NETWORKS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    assert AuditEvent.objects.filter(action="token.revoke", subject="token:ci").count() == 1


def test_an_expired_token_is_refused(make_client):
    made = make_token(make_client, "editor", "viewer")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = bearer(made["token"]).get(NETWORKS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


@pytest.mark.parametrize("header", ["Bearer gh_not-a-real-token", "Bearer ", "Bearer a b"])
def test_an_unknown_or_malformed_token_is_refused(db, header):
    client = Client(**alb_headers(), HTTP_AUTHORIZATION=header)
    response = client.get(NETWORKS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_a_token_stops_when_its_creator_is_demoted_below_it_or_deactivated(make_client):
    editor_token = make_token(make_client, "editor", "editor", name="e")["token"]
    viewer_token = make_token(make_client, "editor", "viewer", name="v")["token"]
    creator = get_user_model().objects.get(username="editor")
    creator.groups.set([role_group("viewer")])  # demoted to viewer

    refused = bearer(editor_token).get(NETWORKS)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_creator_lacks_role"
    assert bearer(viewer_token).get(NETWORKS).status_code == 200

    creator.is_active = False
    creator.save()
    assert bearer(viewer_token).get(NETWORKS).status_code == 401


def test_session_endpoints_refuse_a_token(make_client):
    secret = make_token(make_client, "superuser", "superuser")["token"]
    client = bearer(secret)

    session = client.get("/api/auth/session")
    login = client.post(
        "/api/auth/login",
        json.dumps({"username": "x", "password": "y"}),
        content_type="application/json",
    )

    for response in (session, login):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_not_accepted"


def test_the_django_admin_ignores_a_token(make_client):
    secret = make_token(make_client, "superuser", "superuser")["token"]
    response = bearer(secret).get("/api/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_access_link_page_takes_no_token(make_client):
    """The redeem page is a plain Django view: a token neither opens nor refuses it."""
    from accesscontrol.access_links import create_access_link

    link = create_access_link(
        requester=Requester(name="cli:test"), label="Dana", hours=1, valid_hours=1
    )
    secret = make_token(make_client, "superuser", "superuser")["token"]

    page = bearer(secret).get(link.path)

    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert b"Access to Gatehouse" in page.content


def test_tokens_cannot_manage_tokens(make_client):
    made = make_token(make_client, "superuser", "superuser")
    client = bearer(made["token"])

    listed = client.get(TOKENS)
    minted = client.post(
        TOKENS,
        json.dumps({"name": "x", "role": "viewer", "expires_in_days": 1}),
        content_type="application/json",
    )
    revoked = client.delete(f"{TOKENS}/{made['id']}")

    for response in (listed, minted, revoked):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "session_required"
    assert ApiToken.objects.get().revoked_at is None


def test_a_session_and_a_token_together_act_as_the_token_alone(make_client, waf):
    secret = make_token(make_client, "superuser", "viewer")["token"]
    client = make_client("superuser")  # signed in as a superuser...
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"  # ...sending a viewer token

    assert add_network(client).status_code == 403
    assert client.get("/api/me").json()["user"]["username"] == "token:ci"
    assert AllowedNetwork.objects.count() == 0


def test_viewers_cannot_list_tokens(make_client):
    assert make_client("viewer").get(TOKENS).status_code == 403


def test_last_used_is_recorded_at_most_once_a_minute(make_client):
    secret = make_token(make_client, "editor", "viewer")["token"]
    client = bearer(secret)

    client.get(NETWORKS)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    client.get(NETWORKS)
    assert ApiToken.objects.get().last_used_at == first  # no second write
    ApiToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get(NETWORKS)
    assert ApiToken.objects.get().last_used_at > first


def test_tokens_pass_the_origin_secret_and_viewer_allowlist_like_everyone(
    make_client, through_edge
):
    cover("81.2.69.0/24")
    make_client("editor")  # the user
    secret = create_api_token(
        requester=Requester(user=get_user_model().objects.get(username="editor")),
        creator_role="editor",
        name="ci",
        role="viewer",
        expires_in_days=1,
    ).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    no_secret = Client(**alb_headers(), **headers).get(NETWORKS)
    outside = Client(**edge_headers("81.2.70.9"), **headers).get(NETWORKS)
    inside = Client(**edge_headers("81.2.69.9"), **headers).get(NETWORKS)

    assert no_secret.status_code == 403
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "viewer_not_allowed"
    assert inside.status_code == 200
