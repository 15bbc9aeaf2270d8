"""Run the whole edge on this machine: `make run` calls this.

0. check that its three ports are free (naming the one that is not);
1. migrate the (SQLite) database;
2. start the AWS stand-in (moto's server, in-process, on loopback) and point boto3 at it;
3. provision the edge into it with deploy/edge.local.toml through the same code as
   `provision_infra --apply` (which also seeds 127.0.0.1/32 and ::1/128 via accesscontrol);
4. create the user `admin` if missing;
5. start the development OpenID provider (deploy.localstack.oidc_provider, its own process
   on loopback) and point single sign-on at it, unless GATEHOUSE_OIDC_ISSUER names a real
   provider or --no-oidc is given;
6. serve the local edge (CloudFront + WAF stand-in) and, behind it, Django;
7. write var/local.env (the settings and AWS endpoint for commands run against this
   stack: `make manage ARGS=...`) and run `sync_waf` at start and every minute, as
   production schedules it, so temporary entries expire here too.

The stand-in starts empty each time, so the sync state's last-applied addresses and IP
set ids from the previous run are forgotten first: a normal restart reports no drift.
Ctrl-C and SIGTERM both stop it cleanly (and remove var/local.env).

Development only: it needs the dev dependencies (moto) and settings in local mode
(DJANGO_DEBUG=true, GATEHOUSE_ALLOW_PRIVATE_RANGES=true), which `make run` sets.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import secrets
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from accesscontrol.edge import web_acl_name
from deploy import engine, origin_secret
from deploy.aws import AwsClients
from deploy.config import load_config
from deploy.context import Context
from deploy.errors import DeployError

BASE_DIR = Path(settings.BASE_DIR)
TEMPLATE = BASE_DIR / "deploy" / "edge.local.toml"


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def access_log_mode() -> str:
    """GATEHOUSE_LOCAL_ACCESS_LOG: `api` (default: /api/* and refusals), `all`, `0`/`off`."""
    mode = os.environ.get("GATEHOUSE_LOCAL_ACCESS_LOG", "api").strip().lower()
    if mode in ("0", "off", "false", "no"):
        return "off"
    return "all" if mode in ("all", "1") else "api"


class QuietHandler(WSGIRequestHandler):
    """One access-log line per request; static files (the console's own) only on `all`."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        mode = access_log_mode()
        if mode == "off":
            return
        status = int(code) if str(code).isdigit() else 0
        if mode == "api" and not (self.path.startswith("/api/") or status >= 400):
            return
        super().log_request(code, size)


PORT_SETTINGS = {
    "edge": ("--port", "GATEHOUSE_LOCAL_PORT"),
    "origin": ("--origin-port", "GATEHOUSE_LOCAL_ORIGIN_PORT"),
    "AWS stand-in": ("--aws-port", "GATEHOUSE_LOCAL_AWS_PORT"),
    "OpenID provider": ("--oidc-port", "GATEHOUSE_LOCAL_OIDC_PORT"),
}


def check_ports(ports: dict[str, int]) -> None:
    """Fail before any work, naming the port that is taken and the setting that moves it."""
    seen: dict[int, str] = {}
    for what, port in ports.items():
        option, variable = PORT_SETTINGS[what]
        if port in seen:
            raise CommandError(
                f"Port {port} is given to both the {seen[port]} and the {what}; set "
                f"{variable} (or {option}) to another port."
            )
        seen[port] = what
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # The servers set SO_REUSEADDR too: a port in TIME_WAIT is not "taken".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise CommandError(
                    f"Port {port} (the {what}) is already in use on 127.0.0.1 ({exc.strerror}). "
                    f"Stop what uses it (e.g. another `make run`; see `lsof -i :{port}`) or set "
                    f"{variable}={port + 10} (or {option})."
                ) from exc


class ScheduledSync:
    """`manage.py sync_waf` at start and every `interval` seconds, as production's
    `sync_waf --every 60` runs it (retries, adoption, expiry of temporary entries).
    Prints only what changed."""

    def __init__(self, *, interval: float, write: Callable[[str], object]) -> None:
        self.interval = interval
        self.write = write
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduled-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> None:
        out = io.StringIO()
        try:
            call_command("sync_waf", stdout=out, verbosity=2)
        except CommandError as exc:
            self.write(f"scheduled sync_waf: {exc}")
        except Exception as exc:  # noqa: BLE001 - the schedule must survive one bad run
            self.write(f"scheduled sync_waf failed: {type(exc).__name__}: {exc}")
        else:
            lines = out.getvalue().splitlines()
            # What changed WAF, and what the notification drain delivered (when
            # GATEHOUSE_NOTIFY_URLS is set, sync_waf delivers after each sync).
            if any(", wrote" in line or line.startswith("Notifications:") for line in lines):
                self.write("\n".join(f"scheduled sync_waf: {line}" for line in lines))
        finally:
            connections.close_all()  # this thread's connections only

    def _run(self) -> None:
        while True:
            self.run_once()
            if self._stop.wait(self.interval):
                return


def serve(app: WSGIApplication, port: int) -> WSGIServer:
    server = make_server(
        "127.0.0.1", port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def write_env_file(path: Path, *, endpoint: str, edge_name: str) -> None:
    """The settings a command needs to act on this stack (and only on it): local mode,
    the stand-in's endpoint and dummy credentials, this stack's database and edge."""
    from deploy.localstack.aws import LOCAL_CREDENTIALS

    values = {
        "DJANGO_DEBUG": "true",
        "GATEHOUSE_ALLOW_PRIVATE_RANGES": "true",
        "GATEHOUSE_EDGE_NAME": edge_name,
        "GATEHOUSE_CLIENT_IP_SOURCE": settings.GATEHOUSE_CLIENT_IP_SOURCE,
        "GATEHOUSE_REQUIRE_MFA": settings.GATEHOUSE_REQUIRE_MFA,
        # Commands against the stack check their AWS requests like the stack does.
        "GATEHOUSE_AWS_CONFORMANCE": "1",
        "AWS_ENDPOINT_URL": endpoint,
        **LOCAL_CREDENTIALS,
    }
    if os.environ.get("DATABASE_URL"):
        values["DATABASE_URL"] = os.environ["DATABASE_URL"]
    lines = [
        "# Written by `make run` (manage.py runlocal) while the local stack runs; removed when",
        "# it stops. `make manage ARGS=...` loads it: commands then reach only this stack.",
        *(f"{key}={value}" for key, value in values.items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


class DevOpenIdProvider:
    """The development OpenID provider in its own process (its own Django settings), and
    Gatehouse's single sign-on pointed at it for this run (a fresh client secret each run)."""

    def __init__(self, proc: subprocess.Popen[str], *, port: int, secret: str) -> None:
        self.proc = proc
        self.port = port
        self.secret = secret
        self.issuer = ""

    @classmethod
    def launch(cls, *, port: int, data_dir: Path) -> DevOpenIdProvider:
        """Start the process; it migrates and comes up while the edge is provisioned."""
        secret = secrets.token_urlsafe(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "deploy.localstack.oidc_provider",
                f"--data-dir={data_dir}",
                f"--port={port}",
                # One token: a secret that starts with "-" (token_urlsafe's alphabet has
                # it) would read as an option after a separate "--client-secret".
                f"--client-secret={secret}",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        return cls(proc, port=port, secret=secret)

    def wait_ready(self) -> None:
        """Wait for its ready line, then point Gatehouse's single sign-on at it."""
        from accesscontrol.oidc_config import OidcConfig, parse_domains, parse_role_map
        from deploy.localstack import oidc_provider as dev
        from deploy.localstack.oidc_provider.__main__ import READY

        proc, port = self.proc, self.port
        # Its ready line, or "" when it died (or hung: waited for at most a minute).
        ready, _, _ = select.select([proc.stdout], [], [], 60) if proc.stdout else ([], [], [])
        line = proc.stdout.readline() if ready and proc.stdout else ""
        if READY not in line:
            proc.kill()
            raise CommandError(
                f"The development OpenID provider did not start (port {port}; set "
                "GATEHOUSE_LOCAL_OIDC_PORT, or GATEHOUSE_LOCAL_OIDC=off to run without it)."
            )
        self.issuer = line.split(READY, 1)[1].strip()
        settings.GATEHOUSE_OIDC = OidcConfig(
            issuer=self.issuer,
            client_id=dev.CLIENT_ID,
            client_secret=self.secret,
            scopes=tuple(dev.SCOPES.split()),
            role_map=parse_role_map(dev.ROLE_MAP),
            allowed_email_domains=parse_domains(dev.ALLOWED_EMAIL_DOMAINS),
            provider_name="Dev IdP",
        )

    def banner(self) -> list[str]:
        from deploy.localstack.oidc_provider import DEMO_PASSWORD, DEMO_USERS

        return [
            f"  single sign-on:  'Sign in with Dev IdP' (development OpenID provider at "
            f"{self.issuer}; demo password '{DEMO_PASSWORD}'):",
            *(
                f"    {u.username:<8} {u.email:<20} {', '.join(u.groups):<18} -> {u.what}"
                for u in DEMO_USERS
            ),
        ]

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sso_banner() -> list[str]:
    config = settings.GATEHOUSE_OIDC
    if config is None:
        return ["  single sign-on:  off (GATEHOUSE_LOCAL_OIDC=off)"]
    return [f"  single sign-on:  {config.provider_name} ({config.issuer})"]


class Command(BaseCommand):
    help = "Start the local stack: AWS stand-in, provisioned edge, local CloudFront+WAF, Django."

    def add_arguments(self, parser: ArgumentParser) -> None:
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
        parser.add_argument(
            "--env-file",
            default=str(Path(settings.VAR_DIR) / "local.env"),
            help="Where to write the settings commands need to reach this stack.",
        )
        parser.add_argument(
            "--oidc-port",
            type=int,
            default=int(os.environ.get("GATEHOUSE_LOCAL_OIDC_PORT", "8002")),
            help="The development OpenID provider's port (single sign-on's demo users).",
        )
        parser.add_argument(
            "--oidc-dir",
            default=str(Path(settings.VAR_DIR) / "dev-oidc"),
            help="The development OpenID provider's SQLite file and signing key.",
        )
        parser.add_argument(
            "--no-oidc",
            action="store_true",
            default=os.environ.get("GATEHOUSE_LOCAL_OIDC", "").lower() in ("0", "off", "false"),
            help="Do not start the development OpenID provider (GATEHOUSE_LOCAL_OIDC=off).",
        )
        parser.add_argument(
            "--sync-interval",
            type=float,
            default=60.0,
            help="Seconds between scheduled sync_waf runs (production: every minute).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG and settings.GATEHOUSE_ALLOW_PRIVATE_RANGES):
            raise CommandError(
                "runlocal is for the local stack: start it with `make run` (it sets "
                "DJANGO_DEBUG=true and GATEHOUSE_ALLOW_PRIVATE_RANGES=true)."
            )
        # The demo signs in with a password alone unless asked for the second factor
        # (GATEHOUSE_REQUIRE_MFA=editors make run): production's default is "editors".
        if not os.environ.get("GATEHOUSE_REQUIRE_MFA"):
            settings.GATEHOUSE_REQUIRE_MFA = "off"
        from deploy.conformance import install as check_aws_requests
        from deploy.localstack.aws import (
            point_boto3_at,
            prepare_account,
            record_sampled_request,
            start_moto_server,
        )
        from deploy.localstack.edge import (
            DistributionRoutes,
            LocalEdge,
            OriginCertificate,
            WebAclJudge,
        )

        started = time.monotonic()
        # A real provider configured in the environment wins over the development one.
        dev_oidc = not options["no_oidc"] and settings.GATEHOUSE_OIDC is None
        ports = {
            "edge": options["port"],
            "origin": options["origin_port"],
            "AWS stand-in": options["aws_port"],
        }
        if dev_oidc:
            ports["OpenID provider"] = options["oidc_port"]
        check_ports(ports)
        # Every AWS request this process makes (provisioning, the local edge, the Django
        # app it serves) is checked against botocore's models before moto sees it.
        check_aws_requests()
        # moto's server logs every AWS call through werkzeug; the banner says what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # SIGTERM (systemd, docker, `kill`) stops as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
        provider = (
            DevOpenIdProvider.launch(port=options["oidc_port"], data_dir=Path(options["oidc_dir"]))
            if dev_oidc
            else None
        )
        if provider:
            # Whatever stops this command (an error while provisioning included) stops it.
            atexit.register(provider.stop)
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
        from accesscontrol.services import forget_applied_state

        # The stand-in's IP sets are new and empty: not drift, just a fresh account.
        forget_applied_state()
        try:
            engine.apply(ctx)
        except DeployError as exc:
            moto_server.stop()
            raise CommandError(str(exc)) from exc
        # Django runs in its production `cloudfront` mode: it accepts only requests that
        # carry the secret the provisioned distribution sends (read back, not invented).
        secret = origin_secret.in_use(ctx).current
        settings.GATEHOUSE_ORIGIN_SECRETS = [secret]

        password_note = self._ensure_admin()
        if provider:
            try:
                provider.wait_ready()
            except CommandError:
                moto_server.stop()
                raise
        # The WSGI app gunicorn serves in production (health check wrapper included).
        from adminsite.wsgi import application

        # (After that import: django.setup() re-applies the logging config.) The edge's
        # access log has one line per request; Django would add two more ("Forbidden:
        # /api/...", once per handler in debug) for every 4xx. 5xx still log in full.
        logging.getLogger("django.request").setLevel(logging.ERROR)

        edge = LocalEdge(
            judge=WebAclJudge(wafv2=ctx.clients.wafv2, web_acl_name=web_acl_name(config.name)),
            routes=DistributionRoutes(ctx.clients.cloudfront, ctx.state["distribution_id"]),
            origin_app=application,
            static_root=BASE_DIR / "frontend",
            origin_certificate=OriginCertificate(
                elbv2=ctx.clients.elbv2,
                acm=ctx.clients.acm(config.region),
                load_balancer_name=f"{config.name}-alb",
            ),
            trust_viewer_override=settings.GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER,
            # What the edge judges becomes WAF's sampled requests in the in-process moto
            # (the console's Blocked screen reads them through GetSampledRequests).
            record_sample=record_sampled_request,
        )
        try:
            edge_server = serve(edge, options["port"])
            origin_server = serve(application, options["origin_port"])
        except OSError as exc:
            moto_server.stop()
            if provider:
                provider.stop()
            raise CommandError(
                f"Cannot listen on 127.0.0.1:{options['port']}/{options['origin_port']} "
                f"({exc}); set GATEHOUSE_LOCAL_PORT / GATEHOUSE_LOCAL_ORIGIN_PORT."
            ) from exc

        env_file = Path(options["env_file"])
        write_env_file(env_file, endpoint=endpoint, edge_name=config.name)
        schedule = ScheduledSync(interval=options["sync_interval"], write=self._say)
        schedule.start()

        url = f"http://127.0.0.1:{edge_server.server_port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Gatehouse local stack is up ({time.monotonic() - started:.1f}s)",
                    f"  console:         {url}/",
                    f"  sign in:         admin / {password_note}",
                    f"  Django admin:    {url}/api/admin/ (users and roles; same sign-in)",
                    *(provider.banner() if provider else sso_banner()),
                    f"  second factor:   GATEHOUSE_REQUIRE_MFA={settings.GATEHOUSE_REQUIRE_MFA}"
                    " (GATEHOUSE_REQUIRE_MFA=editors make run turns it on)",
                    f"  AWS stand-in:    {endpoint} (moto; dummy credentials 'local')",
                    f"  origin (ALB):    http://127.0.0.1:{origin_server.server_port}/ "
                    "(refuses requests without the origin secret)",
                    f"  edge:            {config.name} (WAF IP sets {config.name}-office-v4/-v6)",
                    f"  sync_waf:        at start and every {options['sync_interval']:g}s "
                    "(expires temporary entries)",
                    "  notifications:   "
                    + (
                        f"{len(settings.GATEHOUSE_NOTIFY_URLS)} URL(s) from "
                        "GATEHOUSE_NOTIFY_URLS, delivered by the scheduled sync_waf"
                        if settings.GATEHOUSE_NOTIFY_URLS
                        else "off (set GATEHOUSE_NOTIFY_URLS before make run)"
                    ),
                    f"  commands:        from {BASE_DIR} in another terminal "
                    f"(settings in {env_file}):",
                    "    make manage ARGS='sync_waf --dry-run'",
                    "    make manage ARGS='allow_ip 127.0.0.1 --label recovery'",
                    "    make manage ARGS='list_networks'",
                    f"    (or: unset AWS_PROFILE; set -a; . {env_file}; set +a; "
                    ".venv/bin/python manage.py ...)",
                    "    make manage ARGS='provision_infra --config "
                    f"{config_path} --verify --edge-url {url} "
                    f"--origin-url http://127.0.0.1:{origin_server.server_port}'",
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
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            schedule.stop()
            env_file.unlink(missing_ok=True)
            edge_server.shutdown()
            origin_server.shutdown()
            moto_server.stop()
            if provider:
                provider.stop()
            self.stdout.write("Stopped.")
            self.stdout.flush()

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _ensure_admin(self) -> str:
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            return "(password unchanged; set with: manage.py changepassword admin)"
        password = os.environ.get("GATEHOUSE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", email="", password=password)
        if os.environ.get("GATEHOUSE_ADMIN_PASSWORD"):
            return "(password from GATEHOUSE_ADMIN_PASSWORD)"
        return f"{password}   (generated now and shown once)"
