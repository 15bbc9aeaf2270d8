"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection at the first query of every
request with `SELECT 1`: a round trip per request, for a connection that is almost always
fine. This backend looks first at the connection's socket, without blocking: an idle
connection has nothing to read, and a connection the server ended (restart, failover,
idle timeout, pg_terminate_backend) has its error message and end-of-file waiting. Only a
socket with something to read (or a connection psycopg already knows is broken) gets
Django's `SELECT 1`, and closes and reconnects when that fails.

What this cannot see is a peer that vanished without a word (a network partition): then
the request's first query fails, Django marks the connection unusable and the next
request reconnects, as it would when a connection breaks between the check and the query.

Used as ENGINE "adminsite.postgresql" for PostgreSQL URLs (adminsite/settings.py).
"""

import select
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _socket_is_quiet(self) -> bool:
        connection: Any = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            poller = select.poll()
            poller.register(connection.pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):  # no socket any more
            return False

    def close_if_health_check_failed(self) -> None:
        wrapper: Any = self  # attributes Django sets in __init__, unknown to the stubs
        if (
            self.connection is not None
            and wrapper.health_check_enabled
            and not wrapper.health_check_done
            and self._socket_is_quiet()
        ):
            wrapper.health_check_done = True
            return
        super().close_if_health_check_failed()
