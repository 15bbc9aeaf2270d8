"""Fixtures for deploy/: a moto account with a VPC, two subnets in different AZs and ACM
certificates in both regions; an edge config writer; a counter of AWS calls."""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from deploy.moto_fixes import apply_moto_fixes
from tests.conftest import aws_client

REGION = "eu-west-1"
EDGE = "gh-test"
READ_PREFIXES = ("Get", "List", "Describe", "Head")


@pytest.fixture(scope="session", autouse=True)
def one_rsa_key_for_moto_certificates():
    """moto's ACM makes a new 2048-bit RSA key for every certificate requested and loads it
    back with full validation: a quarter of a second of CPU per test account (two
    certificates). No test here looks at the keys, so moto gets one key and loads it once.
    (A test of deploy/localstack's self-signed certificates gets that key too: harmless.)"""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.acm.models import CertBundle

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    validate_pk = CertBundle.validate_pk
    loaded: dict[bytes, object] = {}

    def load_once(bundle):
        if bundle.key not in loaded:
            loaded[bundle.key] = validate_pk(bundle)
        return loaded[bundle.key]

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(rsa, "generate_private_key", lambda *args, **kwargs: key)
        monkeypatch.setattr(CertBundle, "validate_pk", load_once)
        yield


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
    return make_account(monkeypatch)


def make_account(monkeypatch: pytest.MonkeyPatch) -> dict:
    from moto import settings as moto_settings

    # moto reports a requested certificate PENDING_VALIDATION for its first 60 s, as ACM
    # does until DNS validation: the user's certificates here are already validated.
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", -1)
    ec2 = aws_client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.20.1.0/24", "eu-west-1a"), ("10.20.2.0/24", "eu-west-1b"))
    ]
    same_az = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.3.0/24", AvailabilityZone="eu-west-1a")
    app_cert = aws_client("acm", "us-east-1").request_certificate(
        DomainName="admin.example.com", ValidationMethod="DNS"
    )["CertificateArn"]
    origin_cert = aws_client("acm", REGION).request_certificate(
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


@pytest.fixture(scope="module")
def applied_edge(tmp_path_factory, django_db_setup, django_db_blocker):
    """One edge applied once for a whole module: moto, the account, the config and
    `provision_infra --apply`, all module-scoped, for tests that only read the edge back.

    A module that uses it must hold read-only tests only: a test that changes the edge (or
    opens its own moto, which resets every backend) belongs in a module of its own. The
    database writes of the apply (the seeded allowlist) are rolled back after the module."""
    from django.db import transaction

    from tests.conftest import fail_on_conformance_violations, fake_aws_env

    with pytest.MonkeyPatch.context() as monkeypatch:
        fake_aws_env(monkeypatch)
        undo = apply_moto_fixes()
        try:
            with mock_aws(), django_db_blocker.unblock(), transaction.atomic():
                account = make_account(monkeypatch)
                path = tmp_path_factory.mktemp("applied-edge") / "edge.toml"
                path.write_text(config_text(account))
                output = run("--config", str(path), "--apply")
                fail_on_conformance_violations()
                yield AppliedEdge(account=account, config=path, output=output)
                transaction.set_rollback(True)
        finally:
            undo()


@dataclass(frozen=True)
class AppliedEdge:
    account: dict
    config: Path
    output: str  # what --apply printed
