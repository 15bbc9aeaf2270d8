"""Run the whole edge on this machine: `make run` calls this.

1. migrate the (SQLite) database;
2. start the AWS stand-in (moto's server, in-process, on loopback) and point boto3 at it;
3. provision the edge into it with deploy/edge.local.toml through the same code as
   `provision_infra --apply` (which also seeds 127.0.0.1/32 and ::1/128 via accesscontrol);
4. create the user `admin` if missing;
5. serve the local edge (CloudFront + WAF stand-in) and, behind it, Django.

Development only: it needs the dev dependencies (moto) and settings in local mode
(DJANGO_DEBUG=true, GATEHOUSE_ALLOW_PRIVATE_RANGES=true), which `make run` sets.
"""

from __future__ import annotations

import logging
import os
import secrets
import socketserver
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from deploy import engine
from deploy.aws import AwsClients
from deploy.config import load_config
from deploy.context import Context
from deploy.errors import DeployError

BASE_DIR = Path(settings.BASE_DIR)
TEMPLATE = BASE_DIR / "deploy" / "edge.local.toml"


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        if os.environ.get("GATEHOUSE_LOCAL_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


def serve(app, port: int) -> WSGIServer:
    server = make_server(
        "127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Command(BaseCommand):
    help = "Start the local stack: AWS stand-in, provisioned edge, local CloudFront+WAF, Django."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("GATEHOUSE_LOCAL_PORT", "8000"))
        )
        parser.add_argument(
            "--aws-port",
            type=int,
            default=int(os.environ.get("GATEHOUSE_LOCAL_AWS_PORT", "4566")),
        )
        parser.add_argument(
            "--origin-port",
            type=int,
            default=int(os.environ.get("GATEHOUSE_LOCAL_ORIGIN_PORT", "8001")),
            help="Django straight, as the ALB would reach it (refused without the secret).",
        )

    def handle(self, *args, **options):
        if not (settings.DEBUG and settings.GATEHOUSE_ALLOW_PRIVATE_RANGES):
            raise CommandError(
                "runlocal is for the local stack: start it with `make run` (it sets "
                "DJANGO_DEBUG=true and GATEHOUSE_ALLOW_PRIVATE_RANGES=true)."
            )
        from deploy.conformance import install as check_aws_requests
        from deploy.localstack.aws import point_boto3_at, prepare_account, start_moto_server
        from deploy.localstack.edge import (
            DistributionRoutes,
            LocalEdge,
            OriginCertificate,
            WebAclJudge,
        )

        started = time.monotonic()
        # Every AWS request this process makes (provisioning, the local edge, the Django
        # app it serves) is checked against botocore's models before moto sees it.
        check_aws_requests()
        # moto's server logs every AWS call through werkzeug; the banner says what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        call_command("migrate", interactive=False, verbosity=0)

        endpoint = f"http://127.0.0.1:{options['aws_port']}"
        point_boto3_at(endpoint)
        try:
            moto_server = start_moto_server(options["aws_port"])
        except OSError as exc:
            raise CommandError(
                f"Cannot start the AWS stand-in on port {options['aws_port']} ({exc}); set "
                "GATEHOUSE_LOCAL_AWS_PORT to a free port."
            ) from exc

        config_path = prepare_account(TEMPLATE, Path(settings.VAR_DIR) / "edge.local.toml")
        config = load_config(config_path)
        if config.name != settings.GATEHOUSE_EDGE_NAME:
            raise CommandError(
                f"Set GATEHOUSE_EDGE_NAME={config.name} (make run does) so the app manages the "
                "IP sets the local edge enforces."
            )
        ctx = Context(
            config=config,
            clients=AwsClients(region=config.region),
            out=lambda line: self.stdout.write(line) if options["verbosity"] > 1 else None,
            poll_interval=0.2,
        )
        try:
            engine.apply(ctx)
        except DeployError as exc:
            raise CommandError(str(exc)) from exc
        # Django runs in its production `cloudfront` mode: it accepts only requests that
        # carry the secret the provisioned distribution sends (read back, not invented).
        secret = ctx.secret.current
        settings.GATEHOUSE_ORIGIN_SECRETS = [secret]

        password_note = self._ensure_admin()
        # The WSGI app gunicorn serves in production (health check wrapper included).
        from adminsite.wsgi import application

        edge = LocalEdge(
            judge=WebAclJudge(wafv2=ctx.clients.wafv2, web_acl_name=f"{config.name}-edge"),
            routes=DistributionRoutes(ctx.clients.cloudfront, ctx.state["distribution_id"]),
            origin_app=application,
            static_root=BASE_DIR / "frontend",
            origin_certificate=OriginCertificate(
                elbv2=ctx.clients.elbv2,
                acm=ctx.clients.acm(config.region),
                load_balancer_name=f"{config.name}-alb",
            ),
            trust_viewer_override=settings.GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER,
        )
        try:
            edge_server = serve(edge, options["port"])
            origin_server = serve(application, options["origin_port"])
        except OSError as exc:
            moto_server.stop()
            raise CommandError(
                f"Cannot listen on 127.0.0.1:{options['port']}/{options['origin_port']} "
                f"({exc}); set GATEHOUSE_LOCAL_PORT / GATEHOUSE_LOCAL_ORIGIN_PORT."
            ) from exc

        url = f"http://127.0.0.1:{edge_server.server_port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Gatehouse local stack is up ({time.monotonic() - started:.1f}s)",
                    f"  console:         {url}/",
                    f"  sign in:         admin / {password_note}",
                    f"  AWS stand-in:    {endpoint} (moto; dummy credentials 'local')",
                    f"  origin (ALB):    http://127.0.0.1:{origin_server.server_port}/ "
                    "(refuses requests without the origin secret)",
                    f"  edge:            {config.name} (WAF IP sets {config.name}-office-v4/-v6)",
                    "  from another terminal:",
                    f"    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=local "
                    "AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1",
                    f"    export DJANGO_DEBUG=true GATEHOUSE_EDGE_NAME={config.name} "
                    "GATEHOUSE_ALLOW_PRIVATE_RANGES=true GATEHOUSE_AWS_CONFORMANCE=1",
                    "    .venv/bin/python manage.py sync_waf --dry-run",
                    "    .venv/bin/python manage.py allow_ip 127.0.0.1 --label recovery",
                    f"    .venv/bin/python manage.py provision_infra --config {config_path}",
                    f"    .venv/bin/python manage.py provision_infra --config {config_path} "
                    f"--verify --edge-url {url} "
                    f"--origin-url http://127.0.0.1:{origin_server.server_port}",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            )
        )
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the local stack.")
        finally:
            edge_server.shutdown()
            origin_server.shutdown()
            moto_server.stop()

    def _ensure_admin(self) -> str:
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            return "(password unchanged; set with: manage.py changepassword admin)"
        password = os.environ.get("GATEHOUSE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", email="", password=password)
        if os.environ.get("GATEHOUSE_ADMIN_PASSWORD"):
            return "(password from GATEHOUSE_ADMIN_PASSWORD)"
        return f"{password}   (generated now and shown once)"
