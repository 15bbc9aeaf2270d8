"""Checks against what exists in AWS that need no resource of the edge: the certificates
(issued, a key algorithm the service accepts, every name it must cover) and the subnets
(in the VPC, two or more zones). Read-only; a failure raises DeployError naming the
config key. deploy/preflight.py runs them before the first write; the local edge uses
`covers` to judge Host names as CloudFront does.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deploy.aws import aws_errors, error_code, read_or_none
from deploy.context import Context
from deploy.errors import DeployError

# ACM's own list (AWS Certificate Manager User Guide, "Prerequisites for importing"):
# CloudFront supports RSA 1024-4096 and EC prime256v1; the ALB supports all of ACM's.
CLOUDFRONT_KEY_ALGORITHMS = frozenset(
    {"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"}
)
ALB_KEY_ALGORITHMS = CLOUDFRONT_KEY_ALGORITHMS | {"EC_secp384r1", "EC_secp521r1"}


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
    response = read_or_none(
        lambda: ctx.clients.acm(region).describe_certificate(CertificateArn=arn),
        "ResourceNotFoundException",
        "ValidationException",
        action=f"Reading certificate {arn}",
    )
    if response is None:
        raise DeployError(
            f"{path}: key '{key}': certificate {arn} does not exist in ACM in {region}. "
            "Request it there (DNS validation) and copy its ARN."
        )
    cert = response["Certificate"]
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
