"""Break-glass: allow a network from the command line, with only database access and
AWS credentials (no web sign-in needed), then sync WAF at once. If the network exists
but has expired, it is reactivated; if it is active, WAF is re-synced."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accesscontrol.exceptions import NetworkConflict
from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.management.commands._output import validation_message
from accesscontrol.models import AllowedNetwork
from accesscontrol.services import (
    allow_network,
    command_line_requester,
    sync_waf_ip_sets,
    update_network,
)


class Command(BaseCommand):
    help = "Add a network to the allowlist and push it to WAF (break-glass door)."

    def add_arguments(self, parser):
        parser.add_argument(
            "cidr", help="Address or network, e.g. 81.2.69.160 or 2a00:1450:4009::/48"
        )
        parser.add_argument("--label", required=True, help="Whose network this is.")
        parser.add_argument("--note", default="", help="Why it is allowed.")
        parser.add_argument(
            "--ttl-hours", type=int, default=None, help="Expire after this many hours."
        )

    def handle(self, *args, cidr, label, note="", ttl_hours=None, **options):
        refuse_real_aws_in_local_mode()
        if ttl_hours is not None and ttl_hours < 1:
            raise CommandError("--ttl-hours must be a whole number of hours, 1 or more.")
        expires_at = timezone.now() + timedelta(hours=ttl_hours) if ttl_hours else None
        requester = command_line_requester("manage.py allow_ip")
        try:
            change = allow_network(
                requester=requester,
                cidr=cidr,
                label=label,
                note=note,
                expires_at=expires_at,
                source=AllowedNetwork.Source.CLI,
            )
            network, sync = change.network, change.sync
            self.stdout.write(f"Allowed {network.cidr} ({network.label}).")
            for wider in change.covered_by:
                self.stdout.write(f"Note: already covered by {wider.cidr} ({wider.label}).")
        except NetworkConflict as conflict:
            network = conflict.existing
            if network.is_active:
                self.stdout.write(f"{network.cidr} is already allowed ({network.label}).")
                report = sync_waf_ip_sets(requester=requester)
                bad = [s for s in report.sets if s.ip_version == network.ip_version]
                sync_status = "applied" if bad and bad[0].status == "in_sync" else "pending"
                reason = bad[0].error if bad else ""
            else:
                change = update_network(
                    requester=requester,
                    network=network,
                    changes={"expires_at": expires_at, "label": label},
                    confirm=True,
                )
                network = change.network
                sync_status, reason = change.sync.status, change.sync.reason
                self.stdout.write(f"Reactivated {network.cidr} ({network.label}).")
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        else:
            sync_status, reason = sync.status, sync.reason
        if network.expires_at:
            self.stdout.write(f"Expires at {network.expires_at.isoformat()}.")
        if sync_status != "applied":
            raise CommandError(
                f"{network.cidr} is saved, but WAF was not updated: {reason} "
                "Fix the cause and run `manage.py sync_waf`."
            )
        self.stdout.write("WAF updated.")
