"""Fixtures for deploy/: a moto account with a VPC, two subnets in different AZs and ACM
certificates in both regions; an edge config writer; a counter of AWS calls."""

from __future__ import annotations

import copy
import io
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from moto import mock_aws
from moto.core.base_backend import BackendDict

from deploy import conformance
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
    """What the user brings: a VPC, two public subnets in two AZs, issued certificates.

    Made once per process and put back into each test's fresh moto from a snapshot (see
    MotoSnapshot): the same account, with the same ids, for every test."""
    global _ACCOUNT
    if _ACCOUNT is not None and not _in_use():
        _ACCOUNT.restore(monkeypatch)
    else:
        fresh = not _in_use()  # nothing else in this moto yet
        made = make_account(monkeypatch)
        if not fresh:
            return made
        _ACCOUNT = MotoSnapshot.capture(made, output="")
    _UNTOUCHED[0] = _requests_so_far()
    return dict(_ACCOUNT.account)


# --- snapshots of moto (and the allowlist) ---------------------------------------------------
# A provisioning test starts from an account, and most start from an edge applied to it.
# Building either through the API costs ~10 and ~80 moto requests (a tenth and a quarter of
# a second of CPU); the state they leave is the same every time. So each process builds them
# once and copies them into each test's moto: moto keeps every service's state in plain
# objects per account and region (BackendDict), which deep-copy in a few milliseconds.


def _in_use() -> list[Any]:
    """The BackendDicts (one per service) holding state in the current moto."""
    return BackendDict._instances  # type: ignore[misc]


def _requests_so_far() -> int:
    """AWS requests made in this process (the conformance guard sees every one)."""
    return sum(conformance.checked().values())


_UNTOUCHED = [-1]  # the request count when `account` restored its snapshot


def _allowlist_rows() -> list[Any]:
    """Every row of the accesscontrol app's tables, as Django's serializer sees it."""
    return [
        row
        for model in apps.get_app_config("accesscontrol").get_models()
        for row in serializers.serialize("python", model.objects.order_by("pk"))
    ]


@dataclass
class MotoSnapshot:
    backends: list[tuple[Any, str, str, Any]]  # (BackendDict, account id, region, backend)
    account: dict[str, Any]
    output: str  # what the apply printed ("" for the account alone)
    rows: list[Any] = field(default_factory=list)  # the accesscontrol tables after it

    @classmethod
    def capture(cls, account: dict[str, Any], *, output: str, rows: list[Any] | None = None):
        backends = [
            (bd, account_id, region, copy.deepcopy(backend))
            for bd in _in_use()
            for account_id, by_region in bd.items()
            for region, backend in by_region.items()
        ]
        return cls(backends, dict(account), output, rows or [])

    def restore(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto import settings as moto_settings

        monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", -1)  # as make_account
        BackendDict.reset()
        for bd, account_id, region, backend in self.backends:
            dict.__setitem__(bd[account_id], region, copy.deepcopy(backend))


_ACCOUNT: MotoSnapshot | None = None
_APPLIED: dict[tuple[Any, ...], tuple[list[Any], MotoSnapshot]] = {}


def apply_edge(config: Path) -> str:
    """`provision_infra --config CONFIG --apply` on the account, from a snapshot after the
    first time in this process: moto's state and the allowlist's tables as that apply left
    them, and what it printed. Only when this test has done nothing yet since `account`
    (no AWS request, the tables as they were before the snapshot's apply); otherwise, and
    the first time, the real command."""
    key = (
        config.read_text(),
        settings.GATEHOUSE_EDGE_NAME,
        settings.GATEHOUSE_ALLOW_PRIVATE_RANGES,
    )
    untouched = _ACCOUNT is not None and _requests_so_far() == _UNTOUCHED[0]
    before = _allowlist_rows() if untouched else None
    if untouched and key in _APPLIED and _APPLIED[key][0] == before:
        snapshot = _APPLIED[key][1]
        with pytest.MonkeyPatch.context() as monkeypatch:
            snapshot.restore(monkeypatch)  # the ACM setting is already the account's
        _restore_rows(snapshot.rows)
        return snapshot.output
    output = run("--config", str(config), "--apply")
    if untouched and key not in _APPLIED:
        assert _ACCOUNT is not None
        _APPLIED[key] = (
            before or [],
            MotoSnapshot.capture(_ACCOUNT.account, output=output, rows=_allowlist_rows()),
        )
    return output


def _restore_rows(rows: list[Any]) -> None:
    """The accesscontrol tables exactly as `rows` (primary keys included), sequences moved
    past them on PostgreSQL."""
    models = list(apps.get_app_config("accesscontrol").get_models())
    for model in reversed(models):
        model.objects.all().delete()
    for restored in serializers.deserialize("python", rows):
        restored.save()
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


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
