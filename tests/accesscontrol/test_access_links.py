"""accesscontrol.access_links: tokens, link states, redemption through allow_network, and
the database-backed throttle counter."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from accesscontrol import access_links as al
from accesscontrol.models import AccessLink, AccessThrottle, AllowedNetwork, AuditEvent
from accesscontrol.services import Requester
from tests.accesscontrol.conftest import OFFICE_V4, OFFICE_V6

pytestmark = pytest.mark.django_db


@pytest.fixture
def allowlist(waf):
    AllowedNetwork.objects.create(cidr=OFFICE_V4, ip_version=4, label="office")
    AllowedNetwork.objects.create(cidr=OFFICE_V6, ip_version=6, label="office v6")
    return waf


@pytest.fixture
def requester(editor):
    return Requester(user=editor, ip="81.2.69.10")


def test_token_has_256_bits_and_only_its_hash_is_stored(requester):
    first = al.create_access_link(requester=requester, label="a")
    second = al.create_access_link(requester=requester, label="b")
    assert len(first.token) == al.TOKEN_LENGTH and al.is_token_shaped(first.token)
    assert first.token != second.token
    stored = AccessLink.objects.get(pk=first.link.pk)
    assert stored.token_hash == al.hash_token(first.token) and len(stored.token_hash) == 64
    assert first.token not in str(AccessLink.objects.values().get(pk=first.link.pk))
    assert first.path == f"/api/access/{first.token}"
    event = AuditEvent.objects.get(action="access.create", subject__endswith=": a")
    assert first.token not in str(event.after)


def test_status_follows_revoked_then_used_then_expired(requester):
    link = al.create_access_link(requester=requester, label="x").link
    now = timezone.now()
    assert link.status_at(now) == "active"
    assert link.status_at(link.expires_at) == "expired"
    link.uses = 1
    assert link.status_at(link.expires_at) == "used"
    link.revoked_at = now
    assert link.status_at(now) == "revoked"


@pytest.mark.parametrize("token", ["", "short", "A" * 43, "A" * 42 + "!", "A" * 44])
def test_unknown_or_malformed_tokens_are_invalid(requester, token):
    al.create_access_link(requester=requester, label="x")
    with pytest.raises(al.InvalidAccessLink, match="This link is not valid."):
        al.usable_link(token)


def test_multi_use_link_allows_each_address_once_per_use(allowlist, requester):
    created = al.create_access_link(requester=requester, label="team", max_uses=2, hours=1)
    al.redeem_access_link(token=created.token, ip="81.2.70.1")
    redemption = al.redeem_access_link(token=created.token, ip="2a02:8010:9999::1")
    assert redemption.network.cidr == "2a02:8010:9999::1/128"
    assert redemption.link.uses == 2 and redemption.link.status == "used"
    with pytest.raises(al.InvalidAccessLink):
        al.redeem_access_link(token=created.token, ip="81.2.70.3")
    assert allowlist.addresses(4) >= {"81.2.70.1/32"}
    assert "2a02:8010:9999::1/128" in allowlist.addresses(6)
    assert AuditEvent.objects.filter(action="access.redeem").count() == 2


def test_a_refused_redemption_leaves_the_link_as_it_was(allowlist, requester):
    created = al.create_access_link(requester=requester, label="x")
    with pytest.raises(ValidationError) as refused:
        al.redeem_access_link(token=created.token, ip="10.1.2.3")
    assert "cidr" in refused.value.message_dict
    link = AccessLink.objects.get()
    assert (link.uses, link.used_at, link.redeemed_from) == (0, None, None)


def test_redeeming_an_ipv4_mapped_address_allows_the_ipv4_address(allowlist, requester):
    created = al.create_access_link(requester=requester, label="x")
    redemption = al.redeem_access_link(token=created.token, ip="::ffff:81.2.70.4")
    assert redemption.network.cidr == "81.2.70.4/32"


def test_a_link_revoked_after_its_page_was_opened_cannot_be_redeemed(allowlist, requester):
    created = al.create_access_link(requester=requester, label="x")
    al.revoke_access_link(requester=requester, link=created.link)
    with pytest.raises(al.InvalidAccessLink):
        al.redeem_access_link(token=created.token, ip="81.2.70.5")
    assert not AllowedNetwork.objects.filter(cidr="81.2.70.5/32").exists()


def test_command_line_links_name_the_cli_user(allowlist):
    created = al.create_access_link(requester=Requester(name="cli:alice@host"), label="x")
    assert created.link.created_by is None and created.link.created_by_name == "cli:alice@host"
    al.redeem_access_link(token=created.token, ip="81.2.70.6")
    event = AuditEvent.objects.get(action="access.redeem")
    assert event.reason == "Access link 'x' made by cli:alice@host"
    assert event.actor_name.startswith("access-link:")


def test_throttle_counts_per_key_and_window_and_forgets_old_windows():
    window = timedelta(minutes=5)
    start = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    counts = [
        al.count_request("a", window=window, at=start + timedelta(seconds=s)) for s in range(3)
    ]
    assert counts == [1, 2, 3]
    assert al.count_request("b", window=window, at=start) == 1
    assert al.count_request("a", window=window, at=start + timedelta(minutes=5)) == 1
    assert al.count_request("a", window=window, at=start + timedelta(minutes=10)) == 1
    # Windows that ended before the current one are gone.
    assert set(AccessThrottle.objects.values_list("key", "count")) == {("a", 1)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite locks the whole database per writer, so concurrent "
    "writers fail instead of queueing",
)
def test_ten_simultaneous_presses_of_a_single_use_link_let_in_exactly_one(allowlist, requester):
    created = al.create_access_link(requester=requester, label="race")
    start = threading.Barrier(10)
    won, lost, errors = [], [], []

    def press(i: int) -> None:
        try:
            start.wait()
            al.redeem_access_link(token=created.token, ip=f"81.2.70.{100 + i}")
            won.append(i)
        except al.InvalidAccessLink:
            lost.append(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (len(won), len(lost)) == (1, 9)
    assert AllowedNetwork.objects.filter(source="access_link").count() == 1
    assert AccessLink.objects.get().uses == 1
