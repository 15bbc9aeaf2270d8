"""Send one test message to every GATEHOUSE_NOTIFY_URLS entry now and say, per entry,
whether it arrived: the way to check the configuration (regular messages go through the
outbox the scheduled sync_waf drains). Entries are named by position, never printed: a
URL may hold a password."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accesscontrol import notifications


class Command(BaseCommand):
    help = "Send a test message to each GATEHOUSE_NOTIFY_URLS entry; non-zero if any failed."

    def handle(self, *args: Any, **options: Any) -> None:
        if not notifications.enabled():
            raise CommandError("GATEHOUSE_NOTIFY_URLS is empty: notifications are off.")
        results = notifications.send_test_messages()
        for position, delivered, why in results:
            self.stdout.write(
                f"GATEHOUSE_NOTIFY_URLS entry {position}: "
                + ("delivered" if delivered else f"NOT delivered: {why}")
            )
        failed = [position for position, delivered, _ in results if not delivered]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} destination(s) failed.")
