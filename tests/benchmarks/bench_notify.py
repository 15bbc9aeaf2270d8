"""Benchmark of the notification drain (prints figures; not a timed test, pytest does not
collect it).

What one scheduled run pays for notifications, against a local webhook receiver:
- off (GATEHOUSE_NOTIFY_URLS empty): queries and wall time of `drain_notifications`;
- on, nothing new: the idle cost every interval pays;
- on, N new audit events (N = 1, 10, 500: an import; 500 is what one drain sends to one
  URL): the drain that queues and sends them (N > 10 goes out as one digest);
with wall time (best of 7 rounds: the machine may be shared) and DB queries.

Run: `make bench-notify` (SQLite in a throwaway test database) or
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench-notify`.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-" + "x" * 40)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accesscontrol.audit import Requester, audit_event  # noqa: E402
from accesscontrol.models import AuditEvent, NotificationCursor  # noqa: E402
from accesscontrol.notifications import drain_notifications  # noqa: E402
from tests.notify_receivers import WebhookReceiver  # noqa: E402

REPEATS = 7


def events(n: int, round_: int) -> None:
    AuditEvent.objects.bulk_create(
        audit_event(
            requester=Requester(name="cli:bench@host"),
            action="network.allow",
            subject=f"11.{round_}.{i >> 8 & 255}.{i & 255}/32",
            after={"cidr": f"11.{round_}.{i >> 8 & 255}.{i & 255}/32", "label": f"n{i}"},
        )
        for i in range(n)
    )


def measure(prepare, receiver: WebhookReceiver) -> tuple[list[float], int, int]:
    walls, queries, posts = [], 0, 0
    for round_ in range(REPEATS):
        prepare(round_)
        before = receiver.attempts
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            drain_notifications()
            walls.append(time.perf_counter() - started)
        queries, posts = len(captured), receiver.attempts - before
    return walls, queries, posts


def row(name: str, walls: list[float], queries: int, posts: int) -> None:
    print(
        f"{name:<28} best {min(walls) * 1000:8.1f} ms  median "
        f"{statistics.median(walls) * 1000:8.1f} ms  {queries:4d} queries  {posts:3d} POSTs"
    )


def main() -> int:
    old_config = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    receiver = WebhookReceiver().start()
    try:
        print(f"notification drain, {connection.vendor}, {REPEATS} rounds each")
        settings.GATEHOUSE_NOTIFY_URLS = []
        row("off", *measure(lambda r: None, receiver))
        settings.GATEHOUSE_NOTIFY_URLS = [receiver.url()]
        NotificationCursor.objects.create(name="audit", last_id=0)
        drain_notifications()  # the first drain imports Apprise (~0.2 s, once per process)
        row("on, nothing new", *measure(lambda r: None, receiver))
        for n in (1, 10, 500):
            row(f"on, {n:,} new event(s)", *measure(lambda r, n=n: events(n, r), receiver))
    finally:
        receiver.stop()
        connection.creation.destroy_test_db(old_config, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
