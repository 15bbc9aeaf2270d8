"""Access links over HTTP: the console's API (/api/access-links) and the redeem page
(/api/access/<token>) as a visitor outside the allowlist reaches it through the edge."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accesscontrol.models import AccessLink, AccessThrottle, AllowedNetwork, AuditEvent
from tests.api.conftest import cover, edge_headers, make_user
from tests.conftest import sign_in

OUTSIDER = "81.2.70.9"  # not on the allowlist
OFFICE = "81.2.69.0/24"  # the allowlist: covers the signed-in editor's VIEWER_IP


def create_link(editor_client, **body) -> dict:
    response = editor_client.post(
        "/api/access-links", {"label": "Dana, contractor", **body}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def outsider(viewer: str = OUTSIDER) -> Client:
    """A browser outside the allowlist, arriving through the edge (secret on), CSRF on."""
    return Client(enforce_csrf_checks=True, **edge_headers(viewer))


def press_button(client: Client, url: str):
    page = client.get(url)
    assert page.status_code == 200, page.content
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    return client.post(
        url,
        {"csrfmiddlewaretoken": form_token.group(1).decode()},
        HTTP_ORIGIN="https://testserver",
    )


@pytest.fixture
def edge(through_edge, waf):
    cover(OFFICE, "2a02:8010:1234::/48")
    return waf


@pytest.fixture
def make_client(edge):
    """Signed-in clients in the office (VIEWER_IP), through the edge like everyone here."""

    def build(role: str):
        client = Client(**edge_headers())
        if role != "anonymous":
            sign_in(client, make_user(role))
        return client

    return build


@pytest.fixture
def editor_client(make_client):
    return make_client("editor")


# -- the console's API ----------------------------------------------------------------------


def test_editor_creates_a_link_and_sees_its_url_once(edge, editor_client):
    created = create_link(editor_client, hours=4)
    assert re.fullmatch(r"https://testserver/api/access/[A-Za-z0-9_-]{43}", created["url"])
    assert created["status"] == "active"
    assert created["hours"] == 4 and created["max_uses"] == 1
    assert created["created_by"] == "editor"
    link = AccessLink.objects.get()
    assert token_of(created["url"]) not in link.token_hash  # only a hash is stored
    listed = editor_client.get("/api/access-links").json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "url" not in listed[0]
    assert AuditEvent.objects.filter(action="access.create").count() == 1


def test_link_defaults_are_eight_hours_valid_for_a_day(edge, editor_client):
    created = create_link(editor_client)
    link = AccessLink.objects.get(pk=created["id"])
    assert link.hours == 8
    assert timedelta(hours=23, minutes=59) < link.expires_at - timezone.now() <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"hours": 169}, "hours"),
        ({"hours": "8"}, "hours"),
        ({"valid_hours": 0}, "valid_hours"),
        ({"max_uses": 0}, "max_uses"),
        ({"label": ""}, "label"),
        ({"label": 5}, "label"),
    ],
)
def test_bad_link_input_is_a_400_naming_the_field(edge, editor_client, body, field):
    response = editor_client.post(
        "/api/access-links", {"label": "x", **body}, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not AccessLink.objects.exists()


def test_viewers_list_but_cannot_create_or_revoke(edge, make_client, editor_client):
    created = create_link(editor_client)
    viewer = make_client("viewer")
    assert viewer.get("/api/access-links").status_code == 200
    response = viewer.post("/api/access-links", {"label": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert viewer.delete(f"/api/access-links/{created['id']}").status_code == 403
    assert make_client("anonymous").get("/api/access-links").status_code in (401, 403)


def test_the_links_api_is_not_open_to_viewers_outside_the_allowlist(edge):
    # Only /api/access/ is exempt from the allowlist; /api/access-links is not.
    response = outsider().get("/api/access-links")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "viewer_not_allowed"


def test_revoke_marks_the_link_and_is_audited(edge, editor_client):
    created = create_link(editor_client)
    response = editor_client.delete(f"/api/access-links/{created['id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert response.json()["revoked_by"] == "editor"
    again = editor_client.delete(f"/api/access-links/{created['id']}")
    assert again.json()["revoked_at"] == response.json()["revoked_at"]
    assert AuditEvent.objects.filter(action="access.revoke").count() == 1
    assert editor_client.delete("/api/access-links/999").status_code == 404


# -- the redeem page --------------------------------------------------------------------------


def test_fresh_link_page_says_who_what_and_how_long_without_script(edge, editor_client):
    url = create_link(editor_client, hours=6)["url"]
    page = outsider().get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "editor invited you: Dana, contractor." in text
    assert f"{OUTSIDER}/32" in text and "for 6 hours" in text
    assert "<script" not in text and "style" not in text
    assert page["Cache-Control"] == "no-store"
    # A no-referrer policy would make browsers send "Origin: null" with the form's POST,
    # which Django's CSRF check refuses.
    assert "no-referrer" not in text
    assert "csrftoken" in page.cookies  # CSRF without a session: the cookie and the form


def test_redeeming_allows_the_viewer_address_syncs_waf_and_audits(edge, editor_client):
    created = create_link(editor_client, hours=6)
    response = press_button(outsider(), created["url"])
    assert response.status_code == 200, response.content
    assert b"You are in" in response.content and b"Reload Gatehouse in a minute" in response.content
    network = AllowedNetwork.objects.get(cidr=f"{OUTSIDER}/32")
    assert network.source == "access_link"
    assert (
        timedelta(hours=5, minutes=59) < network.expires_at - timezone.now() <= timedelta(hours=6)
    )
    assert f"{OUTSIDER}/32" in edge.addresses(4)
    event = AuditEvent.objects.get(action="access.redeem")
    assert event.subject == f"{OUTSIDER}/32"
    assert "made by editor" in event.reason and event.after["created_by"] == "editor"
    assert event.request_ip == OUTSIDER
    listed = editor_client.get("/api/access-links").json()[0]
    assert listed["status"] == "used"
    assert listed["redeemed_from"] == OUTSIDER and listed["network"] == f"{OUTSIDER}/32"
    # ... and the viewer now gets past Django's own allowlist check.
    assert outsider().get("/api/test1").status_code == 200


def test_ipv6_viewer_gets_a_128(edge, editor_client):
    viewer = "2a02:8010:9999::7"
    press_button(outsider(viewer), create_link(editor_client)["url"])
    assert AllowedNetwork.objects.filter(cidr=f"{viewer}/128", source="access_link").exists()
    assert f"{viewer}/128" in edge.addresses(6)


def invalid(response) -> bool:
    return response.status_code == 404 and b"This link is not valid." in response.content


def test_used_expired_revoked_and_unknown_links_all_get_the_same_page(edge, editor_client):
    used = create_link(editor_client)["url"]
    press_button(outsider(), used)
    expired = create_link(editor_client)["url"]
    AccessLink.objects.filter(pk=AccessLink.objects.order_by("-id")[0].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = create_link(editor_client)
    editor_client.delete(f"/api/access-links/{revoked['id']}")
    unknown = "https://testserver/api/access/" + "A" * 43
    pages = [outsider("81.2.70.10").get(url) for url in (used, expired, revoked["url"], unknown)]
    assert all(invalid(page) for page in pages)
    assert len({page.content for page in pages}) == 1
    # The button of a page opened before the link went bad does nothing either.
    client = outsider("81.2.70.11")
    fresh = create_link(editor_client)
    page = client.get(fresh["url"])
    editor_client.delete(f"/api/access-links/{fresh['id']}")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    assert invalid(client.post(fresh["url"], {"csrfmiddlewaretoken": token.decode()}))
    assert not AllowedNetwork.objects.filter(cidr="81.2.70.11/32").exists()


def test_single_use_link_cannot_be_redeemed_twice(edge, editor_client):
    url = create_link(editor_client)["url"]
    assert press_button(outsider(), url).status_code == 200
    assert invalid(outsider("81.2.70.12").get(url))
    assert not AllowedNetwork.objects.filter(cidr="81.2.70.12/32").exists()


def test_post_without_csrf_token_changes_nothing(edge, editor_client):
    url = create_link(editor_client)["url"]
    response = outsider().post(url, {})
    assert response.status_code == 403
    assert b"Open the link again" in response.content
    assert not AllowedNetwork.objects.filter(source="access_link").exists()
    assert AccessLink.objects.get().uses == 0


def test_allowlist_rules_apply_with_their_messages_and_the_link_stays_usable(edge, editor_client):
    url = create_link(editor_client)["url"]
    response = press_button(outsider("192.168.1.20"), url)  # private: refused by the rules
    assert response.status_code == 400
    assert b"cannot be allowed" in response.content
    assert b"private" in response.content.lower()
    assert AccessLink.objects.get().uses == 0
    assert press_button(outsider(), url).status_code == 200


def test_an_already_allowed_address_is_told_so_and_the_link_is_kept(edge, editor_client):
    url = create_link(editor_client)["url"]
    AllowedNetwork.objects.create(cidr=f"{OUTSIDER}/32", ip_version=4, label="permanent")
    response = press_button(outsider(), url)
    assert b"Already allowed" in response.content
    assert AccessLink.objects.get().uses == 0


def test_an_expired_entry_for_the_same_address_is_renewed(edge, editor_client):
    AllowedNetwork.objects.create(
        cidr=f"{OUTSIDER}/32",
        ip_version=4,
        label="last week",
        expires_at=timezone.now() - timedelta(days=1),
    )
    press_button(outsider(), create_link(editor_client)["url"])
    assert AllowedNetwork.objects.get(cidr=f"{OUTSIDER}/32").is_active
    assert f"{OUTSIDER}/32" in edge.addresses(4)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_are_refused(edge, editor_client, method):
    url = create_link(editor_client)["url"]
    response = getattr(outsider(), method)(url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    "path",
    ["/api/access/", "/api/access/short", "/api/access/" + "A" * 44, "/api/access/x/" + "A" * 43],
)
def test_other_paths_under_the_prefix_get_the_not_valid_page(edge, path):
    assert invalid(outsider().get(path))


def test_oversized_body_is_refused_before_anything_reads_it(edge, editor_client):
    url = create_link(editor_client)["url"]
    client = outsider()
    client.get(url)
    response = client.post(url, {"csrfmiddlewaretoken": "x" * 2000})
    assert response.status_code == 413
    assert client.get(url, CONTENT_LENGTH="10").status_code == 413
    assert AccessLink.objects.get().uses == 0


def test_per_address_throttle_answers_429(edge, editor_client, settings):
    settings.GATEHOUSE_ACCESS_LINK_RATE_LIMIT = 3
    url = create_link(editor_client)["url"]
    client = outsider()
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    blocked = client.get(url)
    assert blocked.status_code == 429 and blocked["Retry-After"] == "300"
    # Another address has its own count; the count lives in the database (all instances).
    assert outsider("81.2.70.50").get(url).status_code == 200
    assert AccessThrottle.objects.get(key=f"access:{OUTSIDER}").count == 5


def test_throttle_counts_an_ipv6_viewer_by_its_64(edge, editor_client, settings):
    settings.GATEHOUSE_ACCESS_LINK_RATE_LIMIT = 1
    url = create_link(editor_client)["url"]
    assert outsider("2a02:8010:9999::1").get(url).status_code == 200
    assert outsider("2a02:8010:9999::2").get(url).status_code == 429


def test_the_origin_secret_still_applies_under_the_access_path(edge, editor_client):
    url = create_link(editor_client)["url"]
    headers = {**edge_headers(OUTSIDER), "HTTP_X_ORIGIN_VERIFY": "wrong"}
    response = Client(**headers).get(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_forbidden"


# -- the command line ------------------------------------------------------------------------


def test_create_access_link_command_prints_a_working_link(edge, settings):
    import io

    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    out = io.StringIO()
    call_command("create_access_link", "--label", "Sam from home", "--hours", "8", stdout=out)
    url = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"https://testserver/api/access/[A-Za-z0-9_-]{43}", url)
    link = AccessLink.objects.get()
    assert link.hours == 8 and link.created_by_name.startswith("cli:")
    assert press_button(outsider(), url).status_code == 200
    assert AllowedNetwork.objects.filter(cidr=f"{OUTSIDER}/32", source="access_link").exists()


def test_create_access_link_command_refuses_bad_hours(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="hours"):
        call_command(
            "create_access_link",
            "--label",
            "x",
            "--hours",
            "200",
            "--base-url",
            "https://a.example",
        )
