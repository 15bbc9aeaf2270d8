"""Project the allowlist into the WAF IP sets, adopt out-of-band additions, drop expired
entries (recording each expiry once). Idempotent and cheap when nothing changed (one
read per IP set), so schedule it every minute (cron, systemd timer or EventBridge)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.management.commands._output import describe_sync, fail_unless_in_sync
from accesscontrol.services import command_line_requester, sync_waf_ip_sets


class Command(BaseCommand):
    help = "Sync the WAF IP sets with the allowlist (three-way merge); --dry-run prints the plan."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would change; write nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, verbosity: int = 1, **options: Any) -> None:
        refuse_real_aws_in_local_mode()
        report = sync_waf_ip_sets(
            requester=command_line_requester("manage.py sync_waf"), dry_run=dry_run
        )
        if verbosity:
            for line in describe_sync(report, verbosity=verbosity):
                self.stdout.write(line)
        fail_unless_in_sync(report)
