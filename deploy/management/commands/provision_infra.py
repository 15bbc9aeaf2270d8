"""Plan, apply, destroy or rotate the Gatehouse edge described by an edge config file.

    python manage.py provision_infra --config edge.toml            # plan only
    python manage.py provision_infra --config edge.toml --apply    # make the changes
    python manage.py provision_infra --config edge.toml --destroy
    python manage.py provision_infra --config edge.toml --rotate-origin-secret
    python manage.py provision_infra --config edge.toml --verify
    python manage.py provision_infra --print-iam-policy [--config edge.toml] [--account-id N]

Without --apply nothing changes. A second --apply on an unchanged edge makes no AWS
writes. The origin secret is printed only when this command creates or rotates it.
Like Terraform, --apply, --destroy and --rotate-origin-secret show the plan and ask for
`yes` on a terminal; --auto-approve skips the question (scripts, CI), and without a
terminal the command refuses rather than wait. Namesakes not tagged for this edge are
refused unless --adopt (deploy/ownership.py); --destroy never deletes them.
"""

from __future__ import annotations

import re
import sys
from argparse import ArgumentParser
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from deploy import engine, origin_secret, verify
from deploy.aws import AwsClients
from deploy.config import EdgeConfig, load_config
from deploy.context import Context
from deploy.errors import DeployError
from deploy.iam import (
    INLINE_USER_POLICY_LIMIT,
    MANAGED_POLICY_LIMIT,
    caller_account_id,
    policy_json,
)
from deploy.origin_secret import OriginSecret
from deploy.plan import render_plan


class Command(BaseCommand):
    help = "Plan (default), apply, destroy, rotate or verify the CloudFront + WAF + ALB edge."
    stealth_options = ("stdin",)  # tests answer the confirmation through a fake terminal
    stdin: TextIO | None  # sys.stdin is None when Python runs without one
    auto_approve: bool

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--config", help="Edge config file (see deploy/edge.example.toml).")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="Make the planned changes.")
        mode.add_argument("--destroy", action="store_true", help="Remove the whole edge.")
        mode.add_argument(
            "--rotate-origin-secret",
            action="store_true",
            help="Replace the X-Origin-Verify secret without dropping requests.",
        )
        mode.add_argument(
            "--print-iam-policy",
            action="store_true",
            help="Print the IAM policy these commands need, then exit.",
        )
        mode.add_argument(
            "--verify",
            action="store_true",
            help="Check the live edge end to end against the config and print a table.",
        )
        parser.add_argument(
            "--auto-approve",
            action="store_true",
            help="Do not ask for `yes` before --apply, --destroy or --rotate-origin-secret.",
        )
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="Tag untagged namesakes gatehouse:edge=<name> and manage them, instead of "
            "refusing them.",
        )
        parser.add_argument(
            "--account-id",
            help="--print-iam-policy: the AWS account id for the ARNs (default: the caller's, "
            "from STS GetCallerIdentity).",
        )
        parser.add_argument(
            "--edge-url",
            help="--verify: base URL of the edge (default https://<first app hostname>).",
        )
        parser.add_argument(
            "--origin-url",
            help="--verify: base URL of the origin (default https://<origin hostname>).",
        )
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=10.0,
            help="Seconds between status checks while waiting for AWS (default 10).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdin = options.get("stdin", sys.stdin)
        self.auto_approve = options["auto_approve"]
        if options["print_iam_policy"]:
            self._print_policy(options)
            return
        if not options["config"]:
            raise CommandError("--config FILE is required (start from deploy/edge.example.toml).")
        config = self._load(options["config"])
        refuse_real_aws_in_local_mode()
        if config.name != settings.GATEHOUSE_EDGE_NAME:
            self.stderr.write(
                f"Note: the edge is named {config.name!r} but this app's GATEHOUSE_EDGE_NAME is "
                f"{settings.GATEHOUSE_EDGE_NAME!r}; set GATEHOUSE_EDGE_NAME={config.name} on the "
                "targets so the app manages these IP sets."
            )
        ctx = Context(
            config=config,
            clients=AwsClients(region=config.region),
            out=self.stdout.write,
            poll_interval=options["poll_interval"],
            adopt=options["adopt"],
        )
        try:
            if options["destroy"]:
                self._destroy(ctx)
            elif options["rotate_origin_secret"]:
                self._rotate(ctx)
            elif options["verify"]:
                self._verify(ctx, edge_url=options["edge_url"], origin_url=options["origin_url"])
            else:
                self._plan_or_apply(ctx, apply=options["apply"])
        except DeployError as exc:
            raise CommandError(str(exc)) from exc

    def _print_policy(self, options: dict[str, Any]) -> None:
        if not options["config"]:
            raise CommandError(
                "--print-iam-policy needs --config FILE: the policy is scoped to the edge's "
                "names, region, VPC, certificates and bucket."
            )
        config = self._load(options["config"])
        account = options["account_id"]
        if not account:
            try:
                account = caller_account_id(region=config.region)
            except DeployError as exc:
                raise CommandError(f"{exc} Or pass --account-id.") from exc
        if not re.fullmatch(r"\d{12}", account):
            raise CommandError(f"--account-id {account!r}: an AWS account id is 12 digits.")
        text = policy_json(config, account_id=account)
        self.stdout.write(text)
        compact = len("".join(text.split()))
        if compact > MANAGED_POLICY_LIMIT:
            self.stderr.write(
                f"Note: this policy is {compact} characters without whitespace, more than the "
                f"{MANAGED_POLICY_LIMIT:,} of a customer managed policy: split its statements "
                "into two managed policies, or put it inline on a role (up to 10,240)."
            )
        elif compact > INLINE_USER_POLICY_LIMIT:
            self.stderr.write(
                f"Note: this policy is {compact} characters without whitespace, more than the "
                f"{INLINE_USER_POLICY_LIMIT:,} IAM allows for the inline policies of a user. "
                "Create it as a customer managed policy (up to 6,144) and attach that, or put "
                "it inline on a role (up to 10,240)."
            )

    def confirm(self, action: str, question: str) -> None:
        """Terraform's question: only `yes` goes on; no terminal and no --auto-approve fails."""
        if self.auto_approve:
            return
        stdin = self.stdin
        if stdin is None or not (hasattr(stdin, "isatty") and stdin.isatty()):
            raise CommandError(
                f"{action} needs a confirmation and there is no terminal to ask on: nothing "
                "was changed. Review the plan above, then run again with --auto-approve."
            )
        self.stdout.write(
            f"\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
            ending="",
        )
        self.stdout.flush()
        answer = stdin.readline().strip()
        if answer != "yes":
            raise CommandError(f"{action} cancelled: nothing was changed.")

    def _load(self, path: str) -> EdgeConfig:
        try:
            return load_config(path)
        except DeployError as exc:
            raise CommandError(str(exc)) from exc

    def _plan_or_apply(self, ctx: Context, *, apply: bool) -> None:
        self.stdout.write(
            f"Edge {ctx.name} in {ctx.config.region} (WAF and CloudFront in us-east-1)"
        )
        changes = engine.plan(ctx)
        self.stdout.write(render_plan(changes))
        if not apply:
            if changes:
                self.stdout.write(
                    "\nNothing was changed. Run again with --apply to make these changes."
                )
            return
        if not changes:
            self.stdout.write("")
            self.stdout.write("\n".join(engine.outputs(ctx)))
            return
        self.confirm("Apply", f"Do you want to perform these actions on edge {ctx.name}?")
        self.stdout.write("\nApplying:")
        done = engine.apply(ctx)
        self.stdout.write(self.style.SUCCESS(f"\nApply complete: {len(done)} change(s) made."))
        self.stdout.write("\n".join(engine.outputs(ctx)))
        secret = ctx.secret
        if secret is not None and secret.generated:
            self.stdout.write(
                "\nOrigin secret (shown only now; CloudFront keeps it in the origin header):\n"
                f"  GATEHOUSE_ORIGIN_SECRETS={secret.current}\n"
                "Put this line in the app's environment file on every target and restart it."
            )

    def _destroy(self, ctx: Context) -> None:
        changes = engine.plan_destroy(ctx)
        self.stdout.write(
            render_plan(changes)
            if changes
            else "Nothing to destroy: no resources tagged gatehouse:edge=" + ctx.name
        )
        self._report_skipped(ctx)
        if not changes:
            return
        self.confirm(
            "Destroy",
            f"Do you really want to destroy edge {ctx.name}? The resources listed above will "
            "be deleted; there is no undo.",
        )
        self.stdout.write("\nDestroying:")
        done = engine.destroy(ctx)
        self.stdout.write(
            self.style.SUCCESS(f"\nDestroy complete: {len(done)} resource(s) removed.")
            + "\nThe allowlist stays in the database; a new --apply seeds the new IP sets from it."
        )

    def _report_skipped(self, ctx: Context) -> None:
        if ctx.skipped:
            self.stdout.write(
                "\nLeft alone (never deleted: not owned by this edge):\n"
                + "\n".join(f"  {line}" for line in ctx.skipped)
            )

    def _rotate(self, ctx: Context) -> None:
        chosen = origin_secret.secret_from_env() is not None

        def explain_and_confirm(secret: OriginSecret) -> None:
            # Said before anything changes: afterwards it is too late to avoid rejections.
            lines = [
                f"Rotation of the origin secret of edge {ctx.name}, in this order:",
                "  1/3 the ALB rule accepts the new and the old secret",
                "  2/3 CloudFront sends the new secret (waits until deployed)",
                "  3/3 the ALB rule drops the old secret",
                "",
                "The app checks the secret too (GATEHOUSE_ORIGIN_SECRETS). So that it never "
                "rejects a request in between, BEFORE you approve:",
            ]
            if chosen:
                lines.append(
                    "  set GATEHOUSE_ORIGIN_SECRETS=<new>,<old> on every target (new = your "
                    "GATEHOUSE_ORIGIN_SECRET, old = the value they have now) and restart them;"
                )
            else:
                lines += [
                    "  GATEHOUSE_ORIGIN_SECRET is not set, so the new value is generated now and "
                    "shown only at the end: the app rejects requests from step 2 until you "
                    "update the targets. To avoid that, answer no, then",
                    "  export GATEHOUSE_ORIGIN_SECRET=$(python -c 'import secrets; "
                    "print(secrets.token_hex(32))'), set GATEHOUSE_ORIGIN_SECRETS=<new>,<old> on "
                    "every target, restart them and run this again;",
                ]
            lines.append("  afterwards set GATEHOUSE_ORIGIN_SECRETS=<new> and restart.")
            self.stdout.write("\n".join(lines))
            self.confirm("Rotation", "Do you want to rotate the origin secret now?")

        secret = origin_secret.rotate(ctx, confirm=explain_and_confirm)
        self.stdout.write(
            self.style.SUCCESS("\nOrigin secret rotated: only the new value is accepted now.")
            + f"\n  GATEHOUSE_ORIGIN_SECRETS={secret.current}\n"
            "Put this line in the app's environment file on every target and restart it."
        )

    def _verify(self, ctx: Context, *, edge_url: str | None, origin_url: str | None) -> None:
        results = verify.run_checks(ctx, edge_url=edge_url, origin_url=origin_url)
        self.stdout.write(verify.render_table(results))
        failed = [r for r in results if not r.ok]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(results)} checks failed: "
                + ", ".join(r.name for r in failed)
                + ". Each row says why; `provision_infra --config ... ` (the plan) shows drift, "
                "`--apply` repairs it."
            )
        self.stdout.write(self.style.SUCCESS(f"All {len(results)} checks passed."))
