#!/usr/bin/env python
"""Django's command-line utility for Gatehouse.

A settings mistake (e.g. DJANGO_SECRET_KEY missing) is one line naming the variable, not a
traceback. Commands that need neither the database nor the signing key (the IAM policy
printout, help) run without DJANGO_SECRET_KEY.
"""

import os
import secrets
import sys
from pathlib import Path

LOCAL_ENV = Path(__file__).resolve().parent / "var" / "local.env"


def needs_no_secret(argv: list[str]) -> bool:
    args = argv[1:]
    if not args or args[0] in ("help", "-h", "--help", "--version"):
        return True
    if "-h" in args or "--help" in args:
        return True
    return args[0] == "provision_infra" and "--print-iam-policy" in args


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
    if needs_no_secret(sys.argv):
        # Nothing is signed or stored by these commands: a throwaway key for this process.
        os.environ.setdefault("DJANGO_SECRET_KEY", "offline-" + secrets.token_urlsafe(32))
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        lines = [f"manage.py: ImproperlyConfigured: {exc}"]
        if LOCAL_ENV.exists():
            lines.append(
                "The local stack is running: run commands against it with "
                "`make manage ARGS='sync_waf --dry-run'` (it loads var/local.env)."
            )
        sys.stderr.write("\n".join(lines) + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
