"""The long-running scheduled sync (`manage.py sync_waf --every SECONDS`).

One process stays up and syncs each interval, so the schedule costs one Django start-up
instead of one per minute. Several targets may each run one: per interval the first to
claim the `ScheduledSyncClaim` row (one conditional UPDATE that moves `claimed_at`
forward) syncs and the others skip. No lock is held between intervals, so a crashed
claimant costs at most one interval. A failed sync is logged and the loop goes on; the
next interval retries. SIGTERM/SIGINT end the loop after the current sync (exit 0);
SIGUSR1 asks for a sync now (not claimed: it syncs even when another target has the
interval; syncs of one set serialise on its row lock and a no-op one writes nothing).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType

from django.db import connections
from django.db.models import Q
from django.utils import timezone

from accesscontrol.models import ScheduledSyncClaim

logger = logging.getLogger(__name__)

CLAIM_NAME = "sync_waf"


def claim_slack(interval: float) -> float:
    """How much earlier than one interval after the last claim a new claim is allowed:
    covers timer jitter between processes without letting two claim the same interval."""
    return min(5.0, interval / 4)


def claim_interval(*, interval: float, holder: str, now: datetime | None = None) -> bool:
    """True when this caller won the sync for the interval starting at `now`.

    One UPDATE, atomic on SQLite and PostgreSQL: it succeeds only when the last claim is
    at least (interval - slack) old, so of several processes waking in the same interval
    exactly one succeeds."""
    now = now or timezone.now()
    horizon = now - timedelta(seconds=interval - claim_slack(interval))
    claims = ScheduledSyncClaim.objects.filter(name=CLAIM_NAME)
    won = claims.filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=horizon)).update(
        claimed_at=now, holder=holder
    )
    if won:
        return True
    # The row is made by migration 0007; recreate it if someone deleted it.
    _, created = ScheduledSyncClaim.objects.get_or_create(
        name=CLAIM_NAME, defaults={"claimed_at": now, "holder": holder}
    )
    return created


def refresh_connections() -> None:
    """Drop database connections that are broken or past CONN_MAX_AGE, as Django does
    around each request, so a long-lived process survives a database restart. A
    connection inside an atomic block (a caller's transaction) is left alone."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SyncLoop:
    """Run `sync` once per `interval` seconds while `claim` says this process won it.

    `sync` raising is logged and does not end the loop. `stop()` and `wake()` are safe to
    call from a signal handler: they set a flag and write one byte to a pipe the loop
    waits on (no locks)."""

    def __init__(
        self,
        *,
        interval: float,
        sync: Callable[[], object],
        claim: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._sync = sync
        self._claim = claim
        self._clock = clock
        self._stopping = False
        self._woken = False
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self.intervals = 0  # intervals run (claimed or not)
        self.syncs = 0  # syncs started
        self.failures = 0  # syncs that raised

    def stop(self) -> None:
        self._stopping = True
        self._poke()

    def wake(self) -> None:
        self._woken = True
        self._poke()

    def _poke(self) -> None:
        # OSError: the pipe is full (the loop is awake anyway) or the loop has ended.
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b".")

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            select.select([self._read_fd], [], [], seconds)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 512):
                pass

    def run(self, *, max_intervals: int | None = None) -> None:
        """Loop until stop() (or `max_intervals`, for tests and benchmarks)."""
        try:
            next_at = self._clock()
            while not self._stopping:
                self._wait(next_at - self._clock())
                if self._stopping:
                    break
                due = self._clock() >= next_at
                if not due and not self._woken:
                    continue
                self._woken = False
                self.run_interval(on_demand=not due)
                if due:
                    next_at += self.interval
                    # After a long stall (suspend, a slow sync), skip the missed ticks.
                    now = self._clock()
                    if next_at <= now:
                        next_at = now + self.interval
                if max_intervals is not None and self.intervals >= max_intervals:
                    break
        finally:
            os.close(self._read_fd)
            os.close(self._write_fd)

    def run_interval(self, *, on_demand: bool = False) -> bool:
        """Claim and, if won, sync once (on demand: sync without claiming, the operator
        asked this process). True when this process synced."""
        self.intervals += 1
        refresh_connections()
        try:
            if not on_demand and not self._claim():
                return False
            self.syncs += 1
            self._sync()
            return True
        except Exception:
            self.failures += 1
            logger.exception("Scheduled WAF sync failed; retrying next interval")
            return False
        finally:
            refresh_connections()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the current sync and return; SIGUSR1: sync now."""

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stop()

        def wake(signum: int, frame: FrameType | None) -> None:
            self.wake()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGUSR1, wake)
