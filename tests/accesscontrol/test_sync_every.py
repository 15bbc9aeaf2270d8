"""`sync_waf --every`: the long-running scheduled sync (accesscontrol.schedule), and the
one-shot command's start-up (no system checks)."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from functools import partialmethod
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import BaseCommand
from django.db import connection, connections
from django.utils import timezone

from accesscontrol.models import AllowedNetwork, ScheduledSyncClaim
from accesscontrol.schedule import SyncLoop, claim_interval, claim_slack

from .conftest import OFFICE_V4

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db  # each interval refreshes the database connection


def test_the_one_shot_command_skips_system_checks(waf, monkeypatch):
    def checks_ran(*args, **kwargs):
        raise AssertionError("system checks ran")

    monkeypatch.setattr(BaseCommand, "check", checks_ran)
    # As manage.py runs it (call_command always skips the checks).
    command = load_command_class("accesscontrol", "sync_waf")
    options = vars(command.create_parser("manage.py", "sync_waf").parse_args([]))
    out = io.StringIO()
    command.execute(stdout=out, **options)
    assert "in_sync" in out.getvalue()


def test_the_loop_syncs_once_per_interval():
    synced = []
    loop = SyncLoop(interval=0.01, sync=lambda: synced.append(1), claim=lambda: True)
    loop.run(max_intervals=4)
    assert (loop.intervals, loop.syncs, loop.failures, len(synced)) == (4, 4, 0, 4)


def test_a_failing_sync_does_not_end_the_loop(caplog):
    calls = []

    def sync():
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("WAF down")

    loop = SyncLoop(interval=0.01, sync=sync, claim=lambda: True)
    loop.run(max_intervals=4)
    assert (loop.syncs, loop.failures) == (4, 2)
    assert "Scheduled WAF sync failed" in caplog.text


def test_a_failing_claim_does_not_end_the_loop():
    attempts = []

    def claim():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database gone")
        return True

    loop = SyncLoop(interval=0.01, sync=lambda: None, claim=claim)
    loop.run(max_intervals=3)
    assert (loop.intervals, loop.syncs, loop.failures) == (3, 2, 1)


def test_stop_ends_the_loop_after_the_current_sync():
    finished = []

    def sync():
        loop.stop()  # as SIGTERM's handler would, mid-sync
        finished.append(1)

    loop = SyncLoop(interval=3600, sync=sync, claim=lambda: True)
    started = time.monotonic()
    loop.run()
    assert finished == [1] and loop.syncs == 1
    assert time.monotonic() - started < 5  # did not wait for the next interval


def test_wake_syncs_now_without_waiting_for_the_interval():
    claims = []

    def claim():  # another target holds every interval after the first
        claims.append(1)
        return len(claims) == 1

    loop = SyncLoop(interval=3600, sync=lambda: None, claim=claim)
    timer = threading.Timer(0.2, loop.wake)  # what SIGUSR1's handler calls
    timer.start()
    started = time.monotonic()
    loop.run(max_intervals=2)  # the first at once, the second on demand
    timer.join()
    assert loop.syncs == 2 and time.monotonic() - started < 5
    assert len(claims) == 1  # the on-demand sync did not ask for the interval


def test_one_claim_per_interval():
    now = timezone.now()
    interval = 60
    assert claim_interval(interval=interval, holder="a", now=now)
    assert not claim_interval(interval=interval, holder="b", now=now)
    # A little early (timer jitter between targets) is the next interval; half is not.
    early = now + timedelta(seconds=interval - claim_slack(interval) / 2)
    assert not claim_interval(interval=interval, holder="b", now=now + timedelta(seconds=30))
    assert claim_interval(interval=interval, holder="b", now=early)
    assert ScheduledSyncClaim.objects.get().holder == "b"


def test_a_crashed_claimant_blocks_at_most_one_interval():
    now = timezone.now()
    assert claim_interval(interval=60, holder="crashed", now=now)  # and never comes back
    assert claim_interval(interval=60, holder="b", now=now + timedelta(seconds=60))


def test_the_claim_row_is_recreated_if_deleted():
    ScheduledSyncClaim.objects.all().delete()
    assert claim_interval(interval=60, holder="a")
    assert not claim_interval(interval=60, holder="b")


def test_two_loops_on_one_database_sync_once_per_interval():
    """Two targets' loops, interleaved on a fake wall clock: one sync per interval."""
    start = timezone.now()
    synced: list[tuple[str, int]] = []
    tick = {"n": 0}

    def loop_for(holder: str, offset: float) -> SyncLoop:
        def claim() -> bool:
            now = start + timedelta(seconds=60 * tick["n"] + offset)
            return claim_interval(interval=60, holder=holder, now=now)

        return SyncLoop(interval=60, sync=lambda: synced.append((holder, tick["n"])), claim=claim)

    a, b = loop_for("a", 0.0), loop_for("b", 1.5)  # b's timer runs 1.5 s behind
    for n in range(5):
        tick["n"] = n
        a.run_interval()
        b.run_interval()
    assert [n for _, n in synced] == [0, 1, 2, 3, 4]


def test_the_command_loop_syncs_each_interval(waf, monkeypatch):
    AllowedNetwork.objects.create(cidr=OFFICE_V4, ip_version=4, label="Office")
    monkeypatch.setattr(SyncLoop, "install_signal_handlers", lambda self: None)
    monkeypatch.setattr(SyncLoop, "run", partialmethod(SyncLoop.run, max_intervals=2))
    out = io.StringIO()
    call_command("sync_waf", "--every", "1", stdout=out)
    output = out.getvalue()
    assert waf.addresses(4) == {OFFICE_V4}
    assert "added 1" in output  # the first interval wrote, and said so
    assert "Stopped after 2 intervals, 2 syncs (0 failed)." in output


def test_the_command_refuses_a_bad_interval():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--every: give 1 to 86400 seconds"):
        call_command("sync_waf", "--every", "0")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises every writer on one database lock, so "
    "concurrent claims from threads fail with 'database is locked' instead of racing",
)
def test_concurrent_claims_on_postgresql_one_wins_each_interval():
    start = timezone.now()
    for n in range(5):
        now = start + timedelta(seconds=60 * n)
        barrier = threading.Barrier(6)
        wins: list[str] = []

        def claim(holder: str, now=now, barrier=barrier, wins=wins) -> None:
            try:
                barrier.wait()
                if claim_interval(interval=60, holder=holder, now=now):
                    wins.append(holder)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1, (n, wins)


@pytest.mark.e2e
def test_sigterm_stops_the_loop_cleanly_with_exit_0(tmp_path):
    """A real process: it syncs at once (here WAF is unreachable: the failure is logged and
    the loop goes on), then SIGTERM ends it with exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="adminsite.settings",
        DJANGO_SECRET_KEY="tests-only-key-" + "x" * 50,
        DJANGO_DEBUG="false",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens: each sync fails fast
        AWS_MAX_ATTEMPTS="1",
        PYTHONUNBUFFERED="1",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    proc = subprocess.Popen(
        [*manage, "sync_waf", "--every", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while ScheduledSyncClaimRow.holder(tmp_path) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the loop never claimed an interval"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (stdout, stderr)
    assert "Stopped after 1 intervals, 1 syncs (1 failed)." in stdout


class ScheduledSyncClaimRow:
    @staticmethod
    def holder(tmp_path: Path) -> str | None:
        import sqlite3

        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            row = db.execute(
                "SELECT holder FROM accesscontrol_scheduledsyncclaim WHERE claimed_at IS NOT NULL"
            ).fetchone()
        return row[0] if row else None
