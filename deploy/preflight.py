"""Preflight: everything provisioning can read and check, before its first write.

`load_config` has already checked what needs no AWS (names, tags, bucket name, block page
size). Here, in plan and in apply alike, come the checks that read AWS or the database:
certificates and subnets (deploy/checks.py), and the initial allowlist by the app's own
address rules. A failure raises DeployError naming the config key; nothing has been
written then.

Design choice (issue 11, item 2): `/api/*` forwards the viewer's Host to the ALB (the
managed AllViewerAndCloudFrontHeaders-2022-06 policy, so `CloudFront-Viewer-Address`
reaches Django and Django sees the app's host name for ALLOWED_HOSTS and CSRF). CloudFront
then checks the ALB's certificate against that Host, so the origin certificate must cover
`origin.hostname` AND every `app.hostnames` entry.
"""

from __future__ import annotations

from typing import Any

from deploy.checks import (
    ALB_KEY_ALGORITHMS,
    CLOUDFRONT_KEY_ALGORITHMS,
    check_certificate,
    check_network,
)
from deploy.config import CLOUDFRONT_CERT_REGION
from deploy.context import Context
from deploy.errors import DeployError


def run(ctx: Context) -> None:
    """Every readable check, in config-file order; raises on the first failure."""
    config = ctx.config
    check_certificate(
        ctx,
        key="app.certificate_arn",
        arn=config.app_certificate_arn,
        region=CLOUDFRONT_CERT_REGION,
        hosts=list(config.app_hostnames),
        algorithms=CLOUDFRONT_KEY_ALGORITHMS,
        service="CloudFront",
    )
    check_certificate(
        ctx,
        key="origin.certificate_arn",
        arn=config.origin_certificate_arn,
        region=config.region,
        hosts=[config.origin_hostname, *config.app_hostnames],
        algorithms=ALB_KEY_ALGORITHMS,
        service="the ALB",
        why=(
            "CloudFront forwards the viewer's Host to the ALB on /api/* and checks the ALB's "
            "certificate against it, so it must cover origin.hostname and every "
            "app.hostnames entry"
        ),
    )
    check_network(ctx)
    check_initial_allowlist(ctx)


def check_initial_allowlist(ctx: Context) -> None:
    """The initial CIDRs pass the same rules the app applies when seeding them (so a plan
    that passes never stops half-way at seeding), and the allowlist is never seeded empty."""
    from django.core.exceptions import ValidationError

    from accesscontrol.models import AllowedNetwork
    from accesscontrol.validation import check_network_policy, parse_network

    path = ctx.config.path
    for i, cidr in enumerate(ctx.config.initial_cidrs):
        try:
            # The bootstrap requester is not a superuser: the editor's prefix limit applies.
            check_network_policy(parse_network(cidr), is_superuser=False)
        except ValidationError as exc:
            raise DeployError(
                f"{path}: key 'allowlist.initial_cidrs[{i}]': {cidr} would be refused by the "
                f"app: {'; '.join(_messages(exc))} Fix the entry and run again."
            ) from exc
    if not ctx.config.initial_cidrs and not AllowedNetwork.objects.active().exists():
        raise DeployError(
            f"{path}: key 'allowlist.initial_cidrs': the list is empty and the app's "
            "allowlist has no active networks, so the web ACL would block everyone, you "
            "included. Add your office's public address (e.g. from a 'what is my IP' page)."
        )


def _messages(exc: Any) -> list[str]:
    return [m if m.endswith(".") else m + "." for m in exc.messages]
