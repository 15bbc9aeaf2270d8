"""Print the allowlist as a table (newest first)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from accesscontrol.selectors import network_list


class Command(BaseCommand):
    help = "List the allowlist's networks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--status", choices=["active", "expired"], default=None)
        parser.add_argument("--search", default=None, help="Filter by CIDR, label or note text.")

    def handle(
        self, *args: Any, status: str | None = None, search: str | None = None, **options: Any
    ) -> None:
        networks = list(network_list(status=status, search=search))
        if not networks:
            self.stdout.write("No networks.")
            return
        rows = [("CIDR", "STATUS", "SOURCE", "EXPIRES", "LABEL")]
        rows += [
            (
                n.cidr,
                n.status,
                n.source,
                n.expires_at.strftime("%Y-%m-%d %H:%M UTC") if n.expires_at else "-",
                n.label,
            )
            for n in networks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                + "  "
                + row[4]
            )
        self.stdout.write(f"{len(networks)} network(s).")
