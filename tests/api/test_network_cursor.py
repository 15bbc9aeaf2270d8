"""Keyset (seek) paging of GET /api/networks (issue 18, part 4): the `next` and `previous`
links carry an opaque `cursor`; following them visits exactly the rows `page=1, 2, ...`
list, in every ordering, with the filters kept; `page=N` still works; a cursor that is
not one of the list's own is a 400 naming `cursor`."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from accesscontrol.models import AllowedNetwork

pytestmark = pytest.mark.django_db

ORDERINGS = ["", "label", "-label", "expires_at", "-expires_at", "created_at", "-created_at"]


@pytest.fixture
def listed(db):
    """23 networks with ties on every sort key (labels, expiries, creation times) and
    never-expiring ones among them."""
    now = timezone.now()
    AllowedNetwork.objects.bulk_create(
        AllowedNetwork(
            cidr=f"62.40.{i}.0/24",
            ip_version=4,
            label=["Lab", "Office", "lab", "Annex"][i % 4],
            note="east" if i % 2 else "west",
            expires_at=[None, now + timedelta(hours=2), now - timedelta(hours=1)][i % 3],
        )
        for i in range(23)
    )
    for network in AllowedNetwork.objects.order_by("id"):
        AllowedNetwork.objects.filter(pk=network.pk).update(
            created_at=now - timedelta(minutes=network.pk % 5)
        )


def _ids(body):
    return [n["id"] for n in body["results"]]


def _query(link):
    return parse_qs(urlsplit(link).query)


def _get(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("filters", ["", "&status=active", "&search=lab"])
def test_following_next_and_previous_visits_the_numbered_pages(
    editor_client, waf, listed, ordering, filters
):
    base = f"/api/networks?page_size=4{filters}" + (f"&ordering={ordering}" if ordering else "")
    first = _get(editor_client, base)
    pages = (first["count"] + 3) // 4
    numbered = [_get(editor_client, f"{base}&page={n}") for n in range(1, pages + 1)]
    assert [body["page"] for body in numbered] == list(range(1, pages + 1))

    body, walked = first, [first]
    while body["next"]:
        query = _query(body["next"])
        assert "page" not in query and len(query["cursor"]) == 1
        # The filters and the sort ride along.
        for name in ("status", "search", "ordering", "page_size"):
            assert query.get(name) == parse_qs(urlsplit(base).query).get(name), name
        body = _get(editor_client, body["next"])
        walked.append(body)
    assert [_ids(b) for b in walked] == [_ids(b) for b in numbered]
    assert [b["page"] for b in walked] == list(range(1, pages + 1))
    assert [b["count"] for b in walked] == [first["count"]] * pages

    back = [body]
    while body["previous"]:
        body = _get(editor_client, body["previous"])
        back.insert(0, body)
    assert [_ids(b) for b in back] == [_ids(b) for b in numbered]
    assert [b["page"] for b in back] == list(range(1, pages + 1))
    # Page 2 goes back to the plain first page (by offset), with the filters.
    assert "cursor" not in _query(walked[1]["previous"])


def test_a_numbered_page_links_to_its_neighbours_by_cursor(editor_client, waf, listed):
    third = _get(editor_client, "/api/networks?page_size=5&page=3")
    assert third["page"] == 3
    assert _ids(_get(editor_client, third["next"])) == _ids(
        _get(editor_client, "/api/networks?page_size=5&page=4")
    )
    second = _get(editor_client, third["previous"])
    assert second["page"] == 2
    assert _ids(second) == _ids(_get(editor_client, "/api/networks?page_size=5&page=2"))
    last = _get(editor_client, "/api/networks?page_size=5&page=5")
    assert last["next"] is None and len(last["results"]) == 3


def _next_cursor(client, url="/api/networks?page_size=4"):
    return _query(_get(client, url)["next"])["cursor"][0]


def _refused(client, url):
    response = client.get(url)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["fields"]) == ["cursor"], error
    return error


def test_a_changed_or_made_up_cursor_is_a_400_naming_cursor(editor_client, waf, listed):
    cursor = _next_cursor(editor_client)
    payload, signature = cursor.rsplit(":", 1)
    tampered = [
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),  # the signature
        ("X" if payload[0] != "X" else "Y") + payload[1:] + ":" + signature,  # the payload
        payload,  # no signature
        "WyJuIiw0LCItY3JlYXRlZF9hdCIsWyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxXV0",
        "%00",
        "not a cursor",
        ":",
        "x" * 3000,
    ]
    for value in tampered:
        _refused(editor_client, f"/api/networks?page_size=4&cursor={value}")
        _refused(editor_client, f"/api/networks?status=active&cursor={value}")
    _refused(editor_client, "/api/networks?cursor=")


def test_a_cursor_with_a_wrong_key_for_its_ordering_is_a_400(editor_client, waf, listed):
    from api.pagination import Cursor, encode_cursor

    now = timezone.now()
    for made in [
        Cursor("-created_at", ("2026-01-01", 1), 4),  # not a date with a zone
        Cursor("-created_at", (now, True), 4),  # a boolean id
        Cursor("-created_at", (now, -1), 4),
        Cursor("-created_at", (now,), 4),
        Cursor("label", (None, now, 1), 4),  # labels are never NULL
        Cursor("size", ("x", 1), 4),
        Cursor("-created_at", (now, 1), -4),
    ]:
        _refused(editor_client, f"/api/networks?cursor={encode_cursor(made)}")
    # The same well-made cursor is fine.
    good = encode_cursor(Cursor("-created_at", (now, 1), 4))
    assert editor_client.get(f"/api/networks?cursor={good}").status_code == 200


def test_a_cursor_for_another_ordering_is_a_400(editor_client, waf, listed):
    cursor = _next_cursor(editor_client, "/api/networks?page_size=4&ordering=label")
    error = _refused(editor_client, f"/api/networks?page_size=4&cursor={cursor}")
    assert "sort" in error["fields"]["cursor"][0]
    _refused(editor_client, f"/api/networks?ordering=-label&cursor={cursor}")
    assert editor_client.get(f"/api/networks?ordering=label&cursor={cursor}").status_code == 200


def test_cursor_and_page_together_are_a_400_naming_cursor(editor_client, waf, listed):
    cursor = _next_cursor(editor_client)
    error = _refused(editor_client, f"/api/networks?page_size=4&page=2&cursor={cursor}")
    assert "not both" in error["fields"]["cursor"][0]
    _refused(editor_client, f"/api/networks?page=1&cursor={cursor}&status=active")


def test_a_cursor_past_the_end_is_a_404(editor_client, waf, listed):
    body = _get(editor_client, "/api/networks?page_size=4&page=5")
    last = body["next"]
    AllowedNetwork.objects.filter(
        pk__in=[n["id"] for n in _get(editor_client, last)["results"]]
    ).delete()
    response = editor_client.get(last)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_cursor_fast_path_reads_what_the_serializer_reads(editor_client, waf, listed):
    from django.http import QueryDict

    from api.serializers import NetworkListQuerySerializer

    cursor = _next_cursor(editor_client)
    fast = NetworkListQuerySerializer.parse(QueryDict(f"page_size=4&cursor={cursor}"))
    # An explicit default ordering takes the serializer's path: the same cursor.
    full = NetworkListQuerySerializer.parse(
        QueryDict(f"page_size=4&cursor={cursor}&ordering=-created_at")
    )
    assert fast["cursor"] == full["cursor"]
    assert fast["cursor"].start == 4 and not fast["cursor"].backward
    assert {k: v for k, v in full.items() if k not in ("ordering", "page_size")} == fast
