"""Break-glass: allow a network from the command line, with only database access and
AWS credentials (no web sign-in needed), then sync WAF at once. If the network exists
but has expired, it is reactivated; if it is active, WAF is re-synced
(`services.ensure_network_allowed`)."""

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.management.commands._output import validation_message
from accesscontrol.models import AllowedNetwork
from accesscontrol.services import (
    Admission,
    ChangeSyncStatus,
    command_line_requester,
    ensure_network_allowed,
    expiry_after_hours,
)

SAID = {
    Admission.ADDED: "Allowed {cidr} ({label}).",
    Admission.REACTIVATED: "Reactivated {cidr} ({label}).",
    Admission.ALREADY_ALLOWED: "{cidr} is already allowed ({label}).",
}


class Command(BaseCommand):
    help = "Add a network to the allowlist and push it to WAF (break-glass door)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "cidr", help="Address or network, e.g. 81.2.69.160 or 2a00:1450:4009::/48"
        )
        parser.add_argument("--label", required=True, help="Whose network this is.")
        parser.add_argument("--note", default="", help="Why it is allowed.")
        parser.add_argument(
            "--ttl-hours", type=int, default=None, help="Expire after this many hours."
        )

    def handle(
        self,
        *args: Any,
        cidr: str,
        label: str,
        note: str = "",
        ttl_hours: int | None = None,
        **options: Any,
    ) -> None:
        refuse_real_aws_in_local_mode()
        try:
            expires_at = expiry_after_hours(ttl_hours) if ttl_hours is not None else None
        except ValidationError as exc:
            raise CommandError("--ttl-hours: " + " ".join(exc.messages)) from None
        try:
            ensured = ensure_network_allowed(
                requester=command_line_requester("manage.py allow_ip"),
                cidr=cidr,
                label=label,
                note=note,
                expires_at=expires_at,
                source=AllowedNetwork.Source.CLI,
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        change = ensured.change
        network = change.network
        self.stdout.write(SAID[ensured.admission].format(cidr=network.cidr, label=network.label))
        for wider in change.covered_by if ensured.admission == Admission.ADDED else ():
            self.stdout.write(f"Note: already covered by {wider.cidr} ({wider.label}).")
        if network.expires_at:
            self.stdout.write(f"Expires at {network.expires_at.isoformat()}.")
        if change.sync.status != ChangeSyncStatus.APPLIED:
            raise CommandError(
                f"{network.cidr} is saved, but WAF was not updated: {change.sync.reason} "
                "Fix the cause and run `manage.py sync_waf`."
            )
        self.stdout.write("WAF updated.")
