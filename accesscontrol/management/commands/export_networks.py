"""Export the allowlist to standard output as CSV (the columns import_networks reads, so
an export imports again unchanged) or JSON. Active networks only, unless
--include-expired (an expired network cannot be imported again: its expiry is past)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from accesscontrol.bulk import ExportFormat, export_csv, export_json, networks_for_export


class Command(BaseCommand):
    help = "Write the allowlist to standard output as CSV or JSON."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--format", choices=[f.value for f in ExportFormat], default=ExportFormat.CSV.value
        )
        parser.add_argument(
            "--include-expired", action="store_true", help="Also export expired networks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        networks = networks_for_export(include_expired=options["include_expired"])
        chunks = export_csv(networks) if options["format"] == "csv" else export_json(networks)
        for chunk in chunks:
            self.stdout.write(chunk, ending="")
