"""Fixtures for deploy/: a moto account with a VPC, two subnets in different AZs and ACM
certificates in both regions; an edge config writer; a counter of AWS calls."""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from deploy.moto_fixes import apply_moto_fixes

REGION = "eu-west-1"
EDGE = "gh-test"
READ_PREFIXES = ("Get", "List", "Describe", "Head")


@pytest.fixture
def moto_fixed():
    """moto with deploy/moto_fixes.py applied (it loses the S3 origin's OAC otherwise)."""
    undo = apply_moto_fixes()
    yield
    undo()


@pytest.fixture
def aws(moto_fixed):
    with mock_aws():
        yield


@pytest.fixture
def account(aws, monkeypatch):
    """What the user brings: a VPC, two public subnets in two AZs, issued certificates."""
    from moto import settings as moto_settings

    # moto reports a requested certificate PENDING_VALIDATION for its first 60 s, as ACM
    # does until DNS validation: the user's certificates here are already validated.
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", -1)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.20.1.0/24", "eu-west-1a"), ("10.20.2.0/24", "eu-west-1b"))
    ]
    same_az = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.3.0/24", AvailabilityZone="eu-west-1a")
    app_cert = boto3.client("acm", region_name="us-east-1").request_certificate(
        DomainName="admin.example.com", ValidationMethod="DNS"
    )["CertificateArn"]
    origin_cert = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName="*.example.com", ValidationMethod="DNS"
    )["CertificateArn"]
    return {
        "vpc_id": vpc,
        "subnet_ids": subnets,
        "same_az_subnet": same_az["Subnet"]["SubnetId"],
        "app_cert": app_cert,
        "origin_cert": origin_cert,
    }


def config_text(
    account: dict, *, initial_cidrs=("81.2.69.0/24",), extra: str = "", **replace: str
) -> str:
    values = {
        "name": EDGE,
        "region": REGION,
        "app_cert": account["app_cert"],
        "origin_cert": account["origin_cert"],
        "vpc_id": account["vpc_id"],
        "subnets": ", ".join(f'"{s}"' for s in account["subnet_ids"]),
        "cidrs": ", ".join(f'"{c}"' for c in initial_cidrs),
    }
    values.update(replace)
    return (
        textwrap.dedent(
            """\
            name = "{name}"
            region = "{region}"

            [app]
            hostnames = ["admin.example.com"]
            certificate_arn = "{app_cert}"

            [origin]
            hostname = "api-origin.example.com"
            certificate_arn = "{origin_cert}"

            [network]
            vpc_id = "{vpc_id}"
            subnet_ids = [{subnets}]

            [targets]
            ids = ["10.20.1.10", "10.20.2.10"]
            port = 8000

            [frontend]
            bucket = "gh-test-frontend"

            [allowlist]
            initial_cidrs = [{cidrs}]
            """
        ).format(**values)
        + extra
    )


@pytest.fixture
def edge_config(tmp_path, account) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account))
    return path


@pytest.fixture
def aws_calls(monkeypatch):
    """Every AWS operation deploy/ calls, counted through a botocore before-call hook
    registered on every session (and so on every client it makes)."""
    calls: Counter[str] = Counter()
    real_session = boto3.Session

    def hook(model, **kwargs):
        calls[model.name] += 1

    def session(*args, **kwargs):
        made = real_session(*args, **kwargs)
        made.events.register("before-call", hook)
        return made

    monkeypatch.setattr(boto3, "Session", session)
    return calls


def mutating(calls: Counter) -> dict[str, int]:
    return {op: n for op, n in calls.items() if not op.startswith(READ_PREFIXES)}


CONFIRMED = ("--apply", "--destroy", "--rotate-origin-secret")


def run(*args: str, approve: bool = True, stdin=None) -> str:
    """provision_infra as a script runs it: --auto-approve on the modes that ask."""
    out = io.StringIO()
    extra = ["--auto-approve"] if approve and any(a in CONFIRMED for a in args) else []
    kwargs = {"stdin": stdin} if stdin is not None else {}
    call_command(
        "provision_infra",
        *args,
        *extra,
        "--poll-interval",
        "0",
        stdout=out,
        stderr=io.StringIO(),
        **kwargs,
    )
    return out.getvalue()
