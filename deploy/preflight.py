"""Preflight: everything provisioning can read and check, before its first write.

`load_config` has already checked what needs no AWS (names, tags, bucket name, block page
size). Here, in plan and in apply alike, come the checks that read AWS or the database:
certificates (issued, a key algorithm the service accepts, every name it must cover),
subnets (in the VPC, two or more zones), and the initial allowlist by the app's own
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

from botocore.exceptions import ClientError

from deploy.aws import aws_errors, error_code
from deploy.config import CLOUDFRONT_CERT_REGION
from deploy.context import Context
from deploy.errors import DeployError

# ACM's own list (AWS Certificate Manager User Guide, "Prerequisites for importing"):
# CloudFront supports RSA 1024-4096 and EC prime256v1; the ALB supports all of ACM's.
CLOUDFRONT_KEY_ALGORITHMS = frozenset(
    {"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"}
)
ALB_KEY_ALGORITHMS = CLOUDFRONT_KEY_ALGORITHMS | {"EC_secp384r1", "EC_secp521r1"}


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


def covers(pattern: str, host: str) -> bool:
    """Whether a certificate name (maybe `*.` wildcard, one label deep) covers `host`."""
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        return host.count(".") == pattern.count(".") and host.endswith(pattern[1:])
    return pattern == host


def check_certificate(
    ctx: Context,
    *,
    key: str,
    arn: str,
    region: str,
    hosts: list[str],
    algorithms: frozenset[str],
    service: str,
    why: str = "",
) -> None:
    path = ctx.config.path
    try:
        cert = ctx.clients.acm(region).describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "ValidationException"):
            raise DeployError(
                f"{path}: key '{key}': certificate {arn} does not exist in ACM in {region}. "
                "Request it there (DNS validation) and copy its ARN."
            ) from exc
        with aws_errors(f"Reading certificate {arn}"):
            raise
    status = cert.get("Status")
    if status != "ISSUED":
        raise DeployError(
            f"{path}: key '{key}': certificate {arn} is {status}, not ISSUED. "
            + (
                "Finish its DNS validation in ACM (create the CNAME record it shows), wait "
                "for ISSUED, then run again."
                if status == "PENDING_VALIDATION"
                else "Request or import a valid certificate and use its ARN."
            )
        )
    algorithm = cert.get("KeyAlgorithm")
    if algorithm not in algorithms:
        raise DeployError(
            f"{path}: key '{key}': certificate {arn} uses key algorithm {algorithm}, which "
            f"{service} does not accept ({', '.join(sorted(algorithms))}). Request one with "
            "RSA_2048 or EC_prime256v1."
        )
    names = sorted({cert["DomainName"], *cert.get("SubjectAlternativeNames", [])})
    missing = [h for h in hosts if not any(covers(n, h) for n in names)]
    if missing:
        reason = f" ({why})" if why else ""
        raise DeployError(
            f"{path}: key '{key}': certificate {arn} covers {', '.join(names)} but not "
            f"{', '.join(missing)}{reason}. Use a certificate whose names (or a matching "
            f"wildcard) include {', '.join(hosts)}."
        )


def check_network(ctx: Context) -> None:
    path = ctx.config.path
    try:
        subnets = ctx.clients.ec2.describe_subnets(SubnetIds=list(ctx.config.subnet_ids))["Subnets"]
    except ClientError as exc:
        if error_code(exc).startswith("InvalidSubnetID"):
            raise DeployError(
                f"{path}: key 'network.subnet_ids': {exc.response['Error'].get('Message')}. "
                f"Use subnets of {ctx.config.vpc_id} in region {ctx.config.region}."
            ) from exc
        with aws_errors("Reading subnets"):
            raise
    for subnet in subnets:
        if subnet["VpcId"] != ctx.config.vpc_id:
            raise DeployError(
                f"{path}: key 'network.subnet_ids': {subnet['SubnetId']} is in {subnet['VpcId']}, "
                f"not in network.vpc_id {ctx.config.vpc_id}. Use subnets of that VPC."
            )
    zones = {s["AvailabilityZone"] for s in subnets}
    if len(zones) < 2:
        raise DeployError(
            f"{path}: key 'network.subnet_ids': all subnets are in {', '.join(sorted(zones))}; "
            "an ALB needs subnets in at least 2 availability zones. Add a subnet from another zone."
        )


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
