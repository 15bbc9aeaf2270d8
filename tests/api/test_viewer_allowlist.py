"""Defence in depth: behind the edge, Django too refuses viewers outside the allowlist
(issue 12, item 6), so a leaked origin secret alone opens nothing."""

import time

import pytest
from django.test import Client

from tests.api.conftest import PASSWORD, VIEWER_IP, cover, edge_headers, make_user
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

OUTSIDER = "198.51.100.77"


def test_uncovered_viewer_with_a_valid_secret_gets_the_block_message(through_edge, settings):
    cover(f"{VIEWER_IP}/32")
    response = Client(**edge_headers(OUTSIDER)).get("/api/auth/session")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "viewer_not_allowed"
    assert error["message"] == settings.GATEHOUSE_BLOCK_MESSAGE


def test_covered_viewer_passes(through_edge):
    cover("81.2.69.0/24")
    response = Client(**edge_headers(VIEWER_IP)).get("/api/auth/session")
    assert response.status_code == 200
    assert response.json()["viewer_ip"] == VIEWER_IP


def test_expired_network_covers_nobody(through_edge):
    from datetime import timedelta

    from django.utils import timezone

    from accesscontrol.models import AllowedNetwork

    AllowedNetwork.objects.create(
        cidr=f"{VIEWER_IP}/32",
        ip_version=4,
        label="gone",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    assert Client(**edge_headers(VIEWER_IP)).get("/api/me").status_code == 403


def test_ipv6_viewer_is_judged_by_its_networks(through_edge):
    cover("2001:db8:aa::/48")
    assert Client(**edge_headers("2001:db8:aa::5")).get("/api/auth/session").status_code == 200
    assert Client(**edge_headers("2001:db8:bb::5")).get("/api/auth/session").status_code == 403


def test_signed_in_user_outside_the_allowlist_cannot_change_it(through_edge):
    cover(f"{VIEWER_IP}/32")
    user = make_user("editor")
    client = Client(**edge_headers(OUTSIDER))
    sign_in(client, user)
    response = client.post("/api/networks/mine", {"label": "me"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "viewer_not_allowed"


def test_health_and_sign_out_are_exempt(through_edge):
    cover(f"{VIEWER_IP}/32")
    user = make_user("viewer")
    client = Client(**edge_headers(OUTSIDER))
    sign_in(client, user)
    assert client.get("/api/health").status_code == 200
    assert client.post("/api/auth/logout").status_code == 204
    # Only POST: reading the sign-out URL is no exemption.
    assert client.get("/api/auth/logout").status_code == 403


def test_exempt_paths_setting_opens_a_path_on_purpose(through_edge, settings):
    cover(f"{VIEWER_IP}/32")
    client = Client(**edge_headers(OUTSIDER))
    assert client.get("/api/test1").status_code == 403
    settings.GATEHOUSE_ALLOWLIST_EXEMPT_PATHS = ["/api/test1"]
    assert client.get("/api/test1").status_code == 200


def test_check_is_off_without_the_secret(settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    response = Client(REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_PROTO="https").get("/api/test1")
    assert response.status_code == 200


def test_check_costs_one_query(through_edge, django_assert_num_queries):
    cover(f"{VIEWER_IP}/32")
    client = Client(**edge_headers(VIEWER_IP))
    with django_assert_num_queries(1):
        assert client.get("/api/test1").status_code == 200


def test_login_from_a_covered_viewer_still_works(through_edge):
    cover(f"{VIEWER_IP}/32")
    make_user("editor")
    client = Client(enforce_csrf_checks=True, **edge_headers(VIEWER_IP))
    token = client.get("/api/auth/session").cookies["csrftoken"].value
    response = client.post(
        "/api/auth/login",
        {"username": "editor", "password": PASSWORD},
        content_type="application/json",
        headers={"x-csrftoken": token, "referer": "https://testserver/"},
    )
    assert response.status_code == 200


def test_added_cost_per_request_is_small(through_edge, capsys):
    """Micro-benchmark (printed, not asserted tightly): the gate's query per request."""
    import ipaddress

    from accesscontrol.clientip import viewer_is_allowed

    for i in range(200):
        cover(f"203.0.{i}.0/24")
    cover(f"{VIEWER_IP}/32")
    rounds = 300
    started = time.perf_counter()
    for _ in range(rounds):
        assert viewer_is_allowed(ipaddress.ip_address(VIEWER_IP))
    per_call_ms = (time.perf_counter() - started) / rounds * 1000
    with capsys.disabled():
        print(f"\nviewer allowlist check: {per_call_ms:.3f} ms per request (201 networks)")
    assert per_call_ms < 50


@pytest.mark.parametrize("ip", ["203.0.113.9", "2001:db8:aa:1::9", "::ffff:203.0.113.9"])
def test_candidates_match_the_selector_for_every_prefix(ip):
    # The gate and accesscontrol.selectors agree on what covers an address.
    import ipaddress

    from accesscontrol.clientip import _covering_candidates
    from accesscontrol.selectors import _supernets

    address = ipaddress.ip_address(ip)
    address = address.ipv4_mapped or address if address.version == 6 else address
    assert _covering_candidates(address) == _supernets(ipaddress.ip_network(address))
