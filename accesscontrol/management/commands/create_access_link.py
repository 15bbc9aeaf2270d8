"""Make an access link from the command line and print it (for an admin who still has a
shell on a target but no allowlisted browser). The link is printed once; only its hash is
kept. The base URL is the app's: --base-url, else https://<first DJANGO_ALLOWED_HOSTS
name> (in local mode the local edge, http://127.0.0.1:<GATEHOUSE_LOCAL_PORT>)."""

import os
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accesscontrol import access_links
from accesscontrol.management.commands._output import validation_message
from accesscontrol.services import command_line_requester


def default_base_url() -> str:
    if settings.DEBUG:
        return f"http://127.0.0.1:{os.environ.get('GATEHOUSE_LOCAL_PORT', '8000')}"
    hosts = [h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]
    if not hosts:
        raise CommandError(
            "No app host name to build the link with: pass --base-url https://admin.example.com "
            "(or set DJANGO_ALLOWED_HOSTS)."
        )
    return f"https://{hosts[0]}"


class Command(BaseCommand):
    help = "Make a one-time access link that allows whoever opens it (and presses the button)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--label", required=True, help="Who the link is for, and why.")
        parser.add_argument(
            "--hours",
            type=int,
            default=access_links.HOURS_DEFAULT,
            help="How long the redeemer's address stays allowed (1-168, default 8).",
        )
        parser.add_argument(
            "--valid-hours",
            type=int,
            default=access_links.VALID_HOURS_DEFAULT,
            help="How long the link can be used (default 24).",
        )
        parser.add_argument("--uses", type=int, default=1, help="How many times (default 1).")
        parser.add_argument("--base-url", default=None, help="e.g. https://admin.example.com")

    def handle(
        self,
        *args: Any,
        label: str,
        hours: int,
        valid_hours: int,
        uses: int,
        base_url: str | None = None,
        **options: Any,
    ) -> None:
        base = (base_url or default_base_url()).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise CommandError("--base-url must start with https:// (or http:// locally).")
        try:
            created = access_links.create_access_link(
                requester=command_line_requester("manage.py create_access_link"),
                label=label,
                hours=hours,
                valid_hours=valid_hours,
                max_uses=uses,
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        link = created.link
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Access link {link.pk} for {link.label!r}: allows the address that redeems it "
                f"for {link.hours} hours; usable until {link.expires_at:%Y-%m-%d %H:%M} UTC. "
                "Shown once:"
            )
        self.stdout.write(f"{base}{created.path}")
