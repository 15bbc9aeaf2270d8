"""Remove a network from the allowlist and from WAF. Refuses to empty the allowlist
unless --allow-empty (WAF would then block everyone)."""

import ipaddress
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accesscontrol.exceptions import EmptyAllowlist
from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.models import AllowedNetwork
from accesscontrol.services import command_line_requester, revoke_network


class Command(BaseCommand):
    help = "Remove a network from the allowlist and push the change to WAF."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("cidr", help="The network as listed by list_networks.")
        parser.add_argument(
            "--allow-empty",
            action="store_true",
            help="Allow removing the last active network (WAF then blocks everyone).",
        )

    def handle(self, *args: Any, cidr: str, allow_empty: bool = False, **options: Any) -> None:
        refuse_real_aws_in_local_mode()
        try:
            normalised = str(ipaddress.ip_network(cidr.strip(), strict=True))
        except ValueError as exc:
            raise CommandError(f"{cidr!r} is not a network: {exc}.") from None
        network = AllowedNetwork.objects.filter(cidr=normalised).first()
        if network is None:
            raise CommandError(f"{normalised} is not in the allowlist (see list_networks).")
        try:
            outcome = revoke_network(
                requester=command_line_requester("manage.py revoke_ip"),
                network=network,
                confirm=True,
                allow_empty=allow_empty,
            )
        except EmptyAllowlist as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Removed {normalised} ({network.label}).")
        if outcome.status != "applied":
            raise CommandError(
                f"{normalised} is removed from the allowlist, but WAF was not updated: "
                f"{outcome.reason} Run `manage.py sync_waf` once the cause is fixed."
            )
        self.stdout.write("WAF updated.")
