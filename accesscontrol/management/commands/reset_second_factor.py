"""Break-glass: remove a user's authenticator app and recovery codes (a lost phone, a
locked-out administrator), with only database access. The user enrols again at the next
sign-in when GATEHOUSE_REQUIRE_MFA covers them. Audited as auth.second_factor_reset, by the
operating-system user who ran it (`second_factor.reset`)."""

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accesscontrol import second_factor
from accesscontrol.audit import command_line_requester


class Command(BaseCommand):
    help = "Remove a user's second factor (authenticator app and recovery codes)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="Whose second factor to remove.")
        parser.add_argument("--reason", default="", help="Why (recorded in the audit log).")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = options["username"]
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        removed = second_factor.reset(
            user=user,
            requester=command_line_requester("reset_second_factor"),
            reason=options["reason"] or "Second factor reset from the command line.",
        )
        if removed:
            self.stdout.write(
                f"Removed the second factor of {username}: they enrol again at the next sign-in."
            )
        else:
            self.stdout.write(f"{username} had no second factor; nothing to remove.")
