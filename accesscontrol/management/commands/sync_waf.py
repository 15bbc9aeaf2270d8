"""Project the allowlist into the WAF IP sets, adopt out-of-band additions, drop expired
entries (recording each expiry once). Idempotent and cheap when nothing changed (one
read per IP set). Run it every minute: `--every 60` stays up and syncs each interval
(accesscontrol.schedule; one process per target, one sync per interval across them),
or start the one-shot form from cron or a timer. After each sync it delivers the
notifications (accesscontrol.notifications) when GATEHOUSE_NOTIFY_URLS is set.

No system checks (`requires_system_checks = []`): they load the URLconf, DRF and
drf-spectacular, most of a one-shot run's cost, and `manage.py check` / the web
server run them anyway."""

import logging
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand

from accesscontrol import notifications
from accesscontrol.audit import command_line_requester
from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.management.commands._output import describe_sync, fail_unless_in_sync
from accesscontrol.sync import SyncReport, sync_waf_ip_sets
from accesscontrol.waf import WafIpSetGateway

logger = logging.getLogger(__name__)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ArgumentTypeError(f"--every: not a number of seconds: {value!r}") from None
    if not 1 <= seconds <= 86400:
        raise ArgumentTypeError("--every: give 1 to 86400 seconds")
    return seconds


class Command(BaseCommand):
    help = (
        "Sync the WAF IP sets with the allowlist (three-way merge); --dry-run prints the "
        "plan; --every SECONDS keeps syncing each interval until SIGTERM."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would change; write nothing."
        )
        parser.add_argument(
            "--every",
            type=_seconds,
            metavar="SECONDS",
            help="Stay up and sync each interval (one process per target syncs per "
            "interval); SIGUSR1 syncs now, SIGTERM stops after the current sync.",
        )

    def handle(
        self,
        *args: Any,
        dry_run: bool = False,
        every: float | None = None,
        verbosity: int = 1,
        **options: Any,
    ) -> None:
        refuse_real_aws_in_local_mode()
        requester = command_line_requester("manage.py sync_waf")
        if every is None:
            try:
                report = sync_waf_ip_sets(requester=requester, dry_run=dry_run)
                self._print(report, verbosity=verbosity)
            finally:
                self._notify(dry_run=dry_run, verbosity=verbosity)
            fail_unless_in_sync(report)
            return
        from accesscontrol.schedule import SyncLoop, claim_interval, default_holder

        gateway = WafIpSetGateway.from_settings()  # one client and id cache for the loop
        holder = default_holder()

        def sync_once() -> None:
            try:
                report = sync_waf_ip_sets(requester=requester, dry_run=dry_run, gateway=gateway)
                quiet = not any(
                    s.error or s.wrote or s.to_add or s.to_remove or s.adopted or s.refused
                    for s in report.sets
                )
                self._print(report, verbosity=verbosity if not quiet else verbosity - 1)
            finally:
                self._notify(dry_run=dry_run, verbosity=verbosity)
            fail_unless_in_sync(report)  # raises: the loop logs it and goes on

        loop = SyncLoop(
            interval=every,
            sync=sync_once,
            claim=lambda: dry_run or claim_interval(interval=every, holder=holder),
        )
        loop.install_signal_handlers()
        if verbosity:
            self.stdout.write(f"Syncing WAF every {every:g} s as {holder}; SIGTERM stops.")
        loop.run()
        if verbosity:
            self.stdout.write(
                f"Stopped after {loop.intervals} intervals, {loop.syncs} syncs "
                f"({loop.failures} failed)."
            )

    def _notify(self, *, dry_run: bool, verbosity: int) -> None:
        """Deliver notifications after the sync (also after a failed one: a failing sync is
        itself an event). Never raises: a notification problem must not fail the sync."""
        if dry_run or not notifications.enabled():
            return
        try:
            drained = notifications.drain_notifications()
        except Exception:  # noqa: BLE001 - notifications must not fail the sync
            logger.exception("Notification drain failed; the next run retries")
            return
        if verbosity and (drained.sent or drained.retrying or drained.gave_up):
            self.stdout.write(
                f"Notifications: {drained.sent} sent, {drained.retrying} to retry, "
                f"{drained.gave_up} given up."
            )

    def _print(self, report: SyncReport, *, verbosity: int) -> None:
        if verbosity:
            for line in describe_sync(report, verbosity=verbosity):
                self.stdout.write(line)
