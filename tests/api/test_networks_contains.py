"""GET /api/networks?contains=<address or network>: the networks that let an address in
(issue 18, part 4), answered from the bounds index (tests/accesscontrol/test_network_page.py
shows the plan)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accesscontrol.models import AllowedNetwork


@pytest.fixture
def networks(db):
    past = timezone.now() - timedelta(hours=1)
    AllowedNetwork.objects.bulk_create(
        [
            AllowedNetwork(cidr="147.46.0.0/16", ip_version=4, label="Campus"),
            AllowedNetwork(cidr="147.46.3.0/24", ip_version=4, label="Lab"),
            AllowedNetwork(cidr="147.46.3.9/32", ip_version=4, label="Old", expires_at=past),
            AllowedNetwork(cidr="147.46.4.0/24", ip_version=4, label="Other"),
            AllowedNetwork(cidr="2a00:1450:4009::/48", ip_version=6, label="V6"),
            AllowedNetwork(cidr="2a00:1450:4009:81b::/64", ip_version=6, label="Desk"),
            AllowedNetwork(cidr="2a01::/16", ip_version=6, label="Elsewhere"),
        ]
    )


def _found(client, query):
    response = client.get(f"/api/networks?{query}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return {(n["cidr"], n["status"]) for n in body["results"]}


def test_contains_an_ipv4_address_lists_every_network_that_lets_it_in(make_client, networks):
    client = make_client("viewer")
    assert _found(client, "contains=147.46.3.9") == {
        ("147.46.0.0/16", "active"),
        ("147.46.3.0/24", "active"),
        ("147.46.3.9/32", "expired"),  # listed, with its status, as the status filter says
    }
    assert _found(client, "contains=147.46.3.9&status=active") == {
        ("147.46.0.0/16", "active"),
        ("147.46.3.0/24", "active"),
    }
    assert _found(client, "contains=147.46.3.9&status=expired") == {("147.46.3.9/32", "expired")}
    assert _found(client, "contains=147.46.200.1") == {("147.46.0.0/16", "active")}
    assert _found(client, "contains=147.47.0.1") == set()
    # as WAF judges it: an IPv4-mapped IPv6 address is its IPv4 address
    assert _found(client, "contains=::ffff:147.46.4.4") == {
        ("147.46.0.0/16", "active"),
        ("147.46.4.0/24", "active"),
    }


def test_contains_an_ipv6_address_or_a_network(make_client, networks):
    client = make_client("viewer")
    assert _found(client, "contains=2a00:1450:4009:81b::1") == {
        ("2a00:1450:4009::/48", "active"),
        ("2a00:1450:4009:81b::/64", "active"),
    }
    assert _found(client, "contains=2a00:1450:4009:ffff::1") == {("2a00:1450:4009::/48", "active")}
    assert _found(client, "contains=2a02::1") == set()
    # a network: those equal to or wider than it (host bits are fine in a search)
    assert _found(client, "contains=147.46.3.77/24") == {
        ("147.46.0.0/16", "active"),
        ("147.46.3.0/24", "active"),
    }
    assert _found(client, "contains=2a00:1450::/32") == set()


# "" too: the schema gives `contains` a minLength of 1, and an empty filter silently
# listing everything would hide a console bug (it leaves empty parameters out).
@pytest.mark.parametrize(
    "value", ["", "nonsense", "147.46.3", "147.46.3.9/33", "::1%eth0", "x" * 101]
)
def test_contains_refuses_what_is_not_an_address(make_client, networks, value):
    response = make_client("viewer").get("/api/networks", {"contains": value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["contains"]


def test_contains_is_in_the_schema(make_client):
    schema = make_client("viewer").get("/api/schema?format=json").json()
    parameters = schema["paths"]["/api/networks"]["get"]["parameters"]
    (contains,) = [p for p in parameters if p["name"] == "contains"]
    assert contains["in"] == "query" and "contain" in contains["description"]
