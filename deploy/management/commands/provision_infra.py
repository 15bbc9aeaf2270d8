"""Plan, apply, destroy or rotate the Gatehouse edge described by an edge config file.

    python manage.py provision_infra --config edge.toml            # plan only
    python manage.py provision_infra --config edge.toml --apply    # make the changes
    python manage.py provision_infra --config edge.toml --destroy
    python manage.py provision_infra --config edge.toml --rotate-origin-secret
    python manage.py provision_infra --print-iam-policy [--config edge.toml]

Without --apply nothing changes. A second --apply on an unchanged edge makes no AWS
writes. The origin secret is printed only when this command creates or rotates it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from deploy import engine
from deploy.aws import AwsClients
from deploy.config import load_config
from deploy.context import Context
from deploy.errors import DeployError
from deploy.iam import policy_json
from deploy.plan import render_plan


class Command(BaseCommand):
    help = "Plan (default), apply, destroy or rotate the CloudFront + WAF + ALB edge."

    def add_arguments(self, parser):
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
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=10.0,
            help="Seconds between status checks while waiting for AWS (default 10).",
        )

    def handle(self, *args, **options):
        if options["print_iam_policy"]:
            config = self._load(options["config"]) if options["config"] else None
            self.stdout.write(policy_json(config))
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
        )
        try:
            if options["destroy"]:
                self._destroy(ctx)
            elif options["rotate_origin_secret"]:
                self._rotate(ctx)
            else:
                self._plan_or_apply(ctx, apply=options["apply"])
        except DeployError as exc:
            raise CommandError(str(exc)) from exc

    def _load(self, path):
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
        if not changes:
            return
        self.stdout.write("\nDestroying:")
        done = engine.destroy(ctx)
        self.stdout.write(
            self.style.SUCCESS(f"\nDestroy complete: {len(done)} resource(s) removed.")
            + "\nThe allowlist stays in the database; a new --apply seeds the new IP sets from it."
        )

    def _rotate(self, ctx: Context) -> None:
        secret = engine.rotate_origin_secret(ctx)
        self.stdout.write(
            self.style.SUCCESS("\nOrigin secret rotated: only the new value is accepted now.")
            + f"\n  GATEHOUSE_ORIGIN_SECRETS={secret.current}\n"
            "Put this line in the app's environment file on every target and restart it. "
            "(For zero rejected requests, choose the value first: export GATEHOUSE_ORIGIN_SECRET, "
            "set GATEHOUSE_ORIGIN_SECRETS=<new>,<old> on the targets, rotate, then drop <old>.)"
        )
