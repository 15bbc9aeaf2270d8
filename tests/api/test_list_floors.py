"""The signed-in list's hot path (issue 18, part 1): what it costs in queries, that nothing
about a user's rights is kept between requests, and that the benchmark's two floors
(tests/benchmarks/floors.py) answer exactly what the endpoint answers, so comparing their
speed is fair."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accesscontrol.models import AllowedNetwork
from tests.api.conftest import VIEWER_IP
from tests.conftest import role_group

FLOORS = ("/api/bench/orm-networks", "/api/bench/raw-networks")


@pytest.fixture
def page_of_networks(db):
    """60 networks (more than a page): v4 and v6, one covering the viewer, one expired
    that would cover it, one created by a user, a note with characters JSON escapes."""
    creator = get_user_model().objects.create_user("creator", password="unused-" + "x" * 20)
    past = timezone.now() - timedelta(hours=1)
    networks = [
        AllowedNetwork(cidr=f"62.1.{i}.0/24", ip_version=4, label=f"Site {i}") for i in range(55)
    ]
    networks += [
        AllowedNetwork(cidr="81.2.69.0/24", ip_version=4, label="Covers", created_by=creator),
        AllowedNetwork(cidr="81.2.0.0/16", ip_version=4, label="Expired", expires_at=past),
        AllowedNetwork(cidr="2a00:1450:4009::/48", ip_version=6, label="V6", note='ü\u2028"<'),
        AllowedNetwork(
            cidr="2a00:1450::/32",
            ip_version=6,
            label="Later",
            expires_at=timezone.now() + timedelta(days=2),
            source=AllowedNetwork.Source.ADOPTED,
            needs_review=True,
        ),
        AllowedNetwork(cidr="81.2.69.142/32", ip_version=4, label="Mine"),
    ]
    AllowedNetwork.objects.bulk_create(networks)
    return networks


@pytest.mark.urls("tests.benchmarks.floors")
def test_benchmark_floors_answer_the_same_bytes_as_the_endpoint(make_client, page_of_networks):
    client = make_client("viewer")
    real = client.get("/api/networks")
    assert real.status_code == 200
    body = real.json()
    assert body["count"] == 60 and len(body["results"]) == 50
    assert body["next"].startswith("https://testserver/api/networks?cursor=")
    assert body["page"] == 1
    covering = {r["cidr"] for r in body["results"] if r["covers_you"]}
    assert covering == {"81.2.69.0/24", "81.2.69.142/32"}  # the expired /16 does not
    for floor in FLOORS:
        answer = client.get(floor)
        assert answer.status_code == 200, floor
        assert answer.content == real.content, floor


@pytest.mark.urls("tests.benchmarks.floors")
def test_benchmark_floors_refuse_like_the_endpoint(make_client, page_of_networks):
    for role, status in (("anonymous", 401), ("nobody", 403)):
        client = make_client(role)
        real = client.get("/api/networks")
        assert real.status_code == status
        for floor in FLOORS:
            assert client.get(floor).content == real.content


def test_a_list_request_costs_at_most_four_queries(
    make_client, page_of_networks, django_assert_max_num_queries
):
    client = make_client("viewer")
    client.get("/api/networks")  # content types and the like, cached per process
    # session, user, permissions, page + count
    with django_assert_max_num_queries(4):
        response = client.get("/api/networks?search=site&ordering=label&page=2")
    assert response.status_code == 200
    assert response.json()["count"] == 55


def test_a_demoted_user_is_refused_at_the_next_request(make_client, page_of_networks):
    client = make_client("editor")
    user = get_user_model().objects.get(username="editor")
    assert client.get("/api/networks").status_code == 200
    assert client.post("/api/networks", {}, content_type="application/json").status_code == 400

    user.groups.remove(role_group("editor"))
    user.groups.add(role_group("viewer"))
    assert client.get("/api/networks").status_code == 200
    refused = client.post("/api/networks", {}, content_type="application/json")
    assert refused.status_code == 403

    user.groups.clear()
    assert client.get("/api/networks").status_code == 403
    user.groups.add(role_group("viewer"))
    user.is_active = False
    user.save()
    assert client.get("/api/networks").status_code in (401, 403)


def test_a_signed_out_session_is_refused_at_the_next_request(make_client, page_of_networks):
    client = make_client("viewer")
    cookie = client.cookies["sessionid"].value
    assert client.get("/api/networks").status_code == 200
    assert client.post("/api/auth/logout").status_code in (200, 204)
    client.cookies["sessionid"] = cookie  # replaying the old cookie opens nothing
    assert client.get("/api/networks").status_code == 401


def test_covers_you_follows_the_viewer_address(make_client, page_of_networks):
    v6 = make_client("viewer", viewer="2a00:1450:4009::1")
    covering = {r["cidr"] for r in v6.get("/api/networks").json()["results"] if r["covers_you"]}
    assert covering == {"2a00:1450:4009::/48", "2a00:1450::/32"}
    assert VIEWER_IP.startswith("81.2.69.")


@pytest.mark.parametrize(
    "query", ["", "page=2", "page_size=500", "page=1&page_size=50", "page=3&page=1"]
)
def test_paging_only_queries_skip_the_serializer_with_its_own_answer(query):
    from django.http import QueryDict

    from api.serializers import NetworkListQuerySerializer

    params = QueryDict(query)
    full = NetworkListQuerySerializer(data=params)
    assert full.is_valid()
    # The filters the view reads come out the same; paging is the paginator's to read.
    wanted = {k: v for k, v in full.validated_data.items() if k not in ("page", "page_size")}
    assert NetworkListQuerySerializer.parse(params) == wanted
