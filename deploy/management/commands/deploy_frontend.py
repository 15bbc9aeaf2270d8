"""Upload frontend/ to the edge's bucket and invalidate CloudFront's cache.

    python manage.py deploy_frontend --config edge.toml [--source frontend/]

Unchanged files are skipped, stale objects deleted; index.html is served `no-cache`.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from deploy.aws import AwsClients
from deploy.config import load_config
from deploy.context import Context
from deploy.errors import DeployError
from deploy.frontend import publish


class Command(BaseCommand):
    help = "Publish the static console to the edge's S3 bucket and invalidate CloudFront."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--config", required=True, help="Edge config file.")
        parser.add_argument(
            "--source",
            default=str(Path(settings.BASE_DIR) / "frontend"),
            help="Directory to publish (default: the repository's frontend/).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_real_aws_in_local_mode()
        try:
            config = load_config(options["config"])
            ctx = Context(
                config=config, clients=AwsClients(region=config.region), out=self.stdout.write
            )
            report = publish(ctx, Path(options["source"]))
        except DeployError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{len(report.uploaded)} uploaded, {len(report.unchanged)} unchanged, "
            f"{len(report.deleted)} deleted."
        )
        if report.invalidation_id:
            self.stdout.write(f"CloudFront invalidation {report.invalidation_id} created for /*.")
        else:
            self.stdout.write("Nothing changed; no invalidation needed.")
