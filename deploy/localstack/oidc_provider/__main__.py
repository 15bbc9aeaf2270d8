"""Run the development OpenID provider: `python -m deploy.localstack.oidc_provider
--data-dir DIR --client-secret SECRET [--port N]` (port 0: any free one).

Migrates its SQLite file, makes the demo users, their groups and the Gatehouse client
(secret as given), then serves on 127.0.0.1 and prints one line
`dev-oidc-provider ready <issuer>` for the process that started it. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socketserver
import sys
import threading
import time
from types import FrameType
from typing import NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

READY = "dev-oidc-provider ready"


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if os.environ.get("GATEHOUSE_DEV_OIDC_ACCESS_LOG"):
            super().log_message(format, *args)


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def exit_with_parent() -> None:
    """Stop when the process that started it is gone (even killed): never an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def ensure_demo_data(*, client_secret: str) -> None:
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    from deploy.localstack import oidc_provider as dev

    for demo in dev.DEMO_USERS:
        user, _ = User.objects.get_or_create(username=demo.username)
        user.email = demo.email
        user.first_name = demo.username.capitalize()
        user.set_password(dev.DEMO_PASSWORD)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in demo.groups])
    app = Application.objects.filter(client_id=dev.CLIENT_ID).first() or Application(
        client_id=dev.CLIENT_ID
    )
    app.name = "Gatehouse (local)"
    app.client_type = Application.CLIENT_CONFIDENTIAL
    app.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    app.client_secret = client_secret  # hashed on save
    app.redirect_uris = dev.REDIRECT_URI
    app.post_logout_redirect_uris = dev.POST_LOGOUT_REDIRECT_URI
    app.algorithm = Application.RS256_ALGORITHM
    app.skip_authorization = True  # an internal app: no consent screen
    app.save()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.localstack.oidc_provider")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    exit_with_parent()
    os.environ["GATEHOUSE_DEV_OIDC_DIR"] = args.data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "deploy.localstack.oidc_provider.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from deploy.localstack.oidc_provider import ISSUER_PATH

    call_command("migrate", interactive=False, verbosity=0)
    ensure_demo_data(client_secret=args.client_secret)
    signal.signal(signal.SIGTERM, _stop)
    server = make_server(
        "127.0.0.1", args.port, get_wsgi_application(), _Server, handler_class=_Handler
    )
    print(f"{READY} http://127.0.0.1:{server.server_port}{ISSUER_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
