"""Import many networks from a file (or `-` for standard input): CSV with a
`cidr,label,note,expires_at` header, or one CIDR per line with `--label` for all of them.

Every line is checked first and reported with its line number (the header is line 1).
Nothing is saved when any line is refused, unless `--valid-only`; then the valid ones are
saved in one transaction and WAF is synced once (`accesscontrol.bulk.import_networks`).
The exit status is non-zero whenever a line was refused, or WAF was not updated.
"""

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.bulk import ImportFormat, ImportReport, import_networks
from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.management.commands._output import validation_message
from accesscontrol.models import AllowedNetwork
from accesscontrol.services import ChangeSyncStatus, command_line_requester, expiry_after_hours


class Command(BaseCommand):
    help = "Import networks from a CSV or plain list (FILE, or - for standard input)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="The file to import, or - for standard input.")
        parser.add_argument(
            "--label",
            default=None,
            help="The label of every network (required for one CIDR per line; in a CSV, "
            "used where the label cell is empty).",
        )
        parser.add_argument(
            "--format",
            choices=[f.value for f in ImportFormat],
            default=ImportFormat.AUTO.value,
            help="csv, lines, or auto (CSV when line 1 starts with 'cidr,').",
        )
        parser.add_argument(
            "--ttl-hours",
            type=int,
            default=None,
            help="Expire the networks without an expires_at after this many hours.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report only; save nothing."
        )
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="Save the valid lines even when others are refused (still exits non-zero).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        try:
            if name == "-":
                text = sys.stdin.read()
            else:
                with open(name, encoding="utf-8-sig") as handle:
                    text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {name}: {exc}") from None
        if not options["dry_run"]:
            refuse_real_aws_in_local_mode()
        try:
            default_expiry = (
                expiry_after_hours(options["ttl_hours"], field_name="--ttl-hours")
                if options["ttl_hours"] is not None
                else None
            )
            report = import_networks(
                requester=command_line_requester("manage.py import_networks"),
                text=text,
                format=options["format"],
                label=options["label"],
                default_expires_at=default_expiry,
                valid_only=options["valid_only"],
                dry_run=options["dry_run"],
                source=AllowedNetwork.Source.CLI,
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        self._print(report, verbosity=options["verbosity"])
        refused = len(report.refused)
        if refused:
            saved = (
                f"{len(report.created)} imported anyway (--valid-only)"
                if report.imported
                else "nothing imported"
            )
            raise CommandError(f"{refused} of {len(report.lines)} lines refused; {saved}.")
        if report.sync is not None and report.sync.status != ChangeSyncStatus.APPLIED:
            raise CommandError(
                f"Imported, but WAF was not updated: {report.sync.reason} "
                "Fix the cause and run `manage.py sync_waf`."
            )

    def _print(self, report: ImportReport, *, verbosity: int) -> None:
        for line in report.lines:
            if line.errors:
                for key, messages in line.errors.items():
                    for message in messages:
                        self.stderr.write(f"line {line.line}: {key}: {message}")
            elif verbosity >= 2:
                self.stdout.write(f"line {line.line}: {line.cidr} ({line.label}) {line.status}")
        valid = len(report.valid)
        if report.dry_run:
            self.stdout.write(
                f"Dry run: {valid} of {len(report.lines)} lines valid; nothing saved."
            )
        elif report.imported:
            self.stdout.write(f"Imported {len(report.created)} networks.")
            if report.sync is not None and report.sync.status == ChangeSyncStatus.APPLIED:
                self.stdout.write("WAF updated.")
