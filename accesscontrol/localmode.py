"""The local stack's safety catch: a command run with local settings never reaches real AWS.

Local mode is `DJANGO_DEBUG=true` (what `make run` and `make manage` set). In that mode
boto3 must point at the local AWS stand-in on loopback (`AWS_ENDPOINT_URL`); otherwise a
command would fall back to the default credentials and profile, which on a laptop with a
real AWS profile reach a real account. Production (DEBUG off) is never affected.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import CommandError

LOCAL_ENV_HINT = (
    "While `make run` is up, run commands against it with "
    "`make manage ARGS='sync_waf --dry-run'` (it loads var/local.env, which the banner names)."
)


def is_loopback_endpoint(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_real_aws_in_local_mode() -> None:
    """Raise CommandError when the settings are local but boto3 would reach real AWS."""
    if not settings.DEBUG:
        return
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if endpoint and is_loopback_endpoint(endpoint):
        return
    where = f"AWS_ENDPOINT_URL={endpoint}" if endpoint else "AWS_ENDPOINT_URL is not set"
    raise CommandError(
        f"Refusing to call AWS: DJANGO_DEBUG=true (local mode) but {where}, so this command "
        "would use your default AWS credentials and could reach a real account. "
        + LOCAL_ENV_HINT
        + " For a real edge, run without DJANGO_DEBUG."
    )
