"""adminsite.postgresql: a reused PostgreSQL connection is checked by its socket, not by a
`SELECT 1` round trip per request, and one the server ended is still replaced."""

import select

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_connection():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's backend: run with DATABASE_URL=postgres://...")
    wrapper = connections.create_connection("default")
    assert type(wrapper).__module__ == "adminsite.postgresql.base"
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _new_request(wrapper, monkeypatch):
    """What Django does at a request's start and first query; returns the pings made."""
    pings = []
    real = wrapper.is_usable

    def counted():
        pings.append(1)
        return real()

    monkeypatch.setattr(wrapper, "is_usable", counted)
    wrapper.health_check_done = False  # as close_if_unusable_or_obsolete leaves it
    wrapper.close_if_health_check_failed()
    return pings


def test_a_healthy_connection_costs_no_round_trip(own_connection, monkeypatch):
    assert own_connection.health_check_enabled
    raw = own_connection.connection
    assert _new_request(own_connection, monkeypatch) == []
    assert own_connection.connection is raw
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_the_server_ended_is_checked_and_replaced(own_connection, monkeypatch):
    raw = own_connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [raw.info.backend_pid])
    # The server's goodbye arrives on the socket (an event, not a fixed sleep).
    poller = select.poll()
    poller.register(raw.pgconn.socket, select.POLLIN)
    assert poller.poll(5000)
    assert _new_request(own_connection, monkeypatch) == [1]
    assert own_connection.connection is None  # closed: the next query reconnects
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
