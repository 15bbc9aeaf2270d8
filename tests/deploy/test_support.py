"""The pieces around the engine: moto fixes, IAM policy, IP set names, seeding, systemd."""

import configparser
import io
import json
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from deploy import waf
from deploy.iam import policy_document
from deploy.moto_fixes import apply_moto_fixes
from tests.deploy.conftest import EDGE, config_text, run

REPO = Path(__file__).resolve().parents[2]


def _distribution_with_oac():
    cf = boto3.client("cloudfront", region_name="us-east-1")
    oac = cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "o",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    config = {
        "CallerReference": "r",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "b.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3",
            "ViewerProtocolPolicy": "redirect-to-https",
        },
    }
    dist = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    origin = cf.get_distribution_config(Id=dist)["DistributionConfig"]["Origins"]["Items"][0]
    return oac, origin


def test_moto_fix_keeps_the_s3_origins_access_control():
    undo = apply_moto_fixes()
    try:
        with mock_aws():
            oac, origin = _distribution_with_oac()
    finally:
        undo()
    assert origin["OriginAccessControlId"] == oac
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_unpatched_moto_still_loses_it_so_the_fix_is_needed():
    """If this fails, moto was fixed upstream: deploy/moto_fixes.py can go."""
    with mock_aws():
        _, origin = _distribution_with_oac()
    assert "OriginAccessControlId" not in origin


def test_moto_fix_undo_restores_moto():
    undo = apply_moto_fixes()
    undo()
    test_unpatched_moto_still_loses_it_so_the_fix_is_needed()


def test_ip_set_names_are_the_ones_the_architecture_names():
    assert [waf.ip_set_name(EDGE, v) for v in (4, 6)] == [f"{EDGE}-office-v4", f"{EDGE}-office-v6"]


def _allowed_actions(policy) -> set[str]:
    return {a for s in policy["Statement"] for a in s["Action"]}


# AWS operation name -> IAM action, where they differ.
IAM_ACTION = {
    "HeadBucket": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "HeadObject": "s3:GetObject",
    "DeleteObjects": "s3:DeleteObject",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
PREFIX = {"elastic-load-balancing-v2": "elasticloadbalancing"}


@pytest.mark.django_db
def test_iam_policy_covers_every_call_the_commands_make(edge_config, tmp_path, monkeypatch):
    used: set[str] = set()
    real_session = boto3.Session

    def session(*args, **kwargs):
        made = real_session(*args, **kwargs)

        def hook(model, **kw):
            prefix = model.service_model.signing_name
            used.add(IAM_ACTION.get(model.name, f"{PREFIX.get(prefix, prefix)}:{model.name}"))

        made.events.register("before-call", hook)
        return made

    monkeypatch.setattr(boto3, "Session", session)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>x</p>")
    run("--config", str(edge_config), "--apply")
    call_command(
        "deploy_frontend", "--config", str(edge_config), "--source", str(site), stdout=io.StringIO()
    )
    run("--config", str(edge_config), "--rotate-origin-secret")
    run("--config", str(edge_config), "--destroy")
    allowed = _allowed_actions(policy_document())
    wildcards = {a[:-1] for a in allowed if a.endswith("*")}
    missing = {a for a in used if a not in allowed and not any(a.startswith(w) for w in wildcards)}
    assert missing == set()


def test_print_iam_policy_is_json_scoped_to_the_bucket(edge_config):
    out = io.StringIO()
    call_command("provision_infra", "--print-iam-policy", "--config", str(edge_config), stdout=out)
    policy = json.loads(out.getvalue())
    [bucket] = [s for s in policy["Statement"] if s["Sid"] == "FrontendBucket"]
    assert bucket["Resource"] == [
        "arn:aws:s3:::gh-test-frontend",
        "arn:aws:s3:::gh-test-frontend/*",
    ]


def _ip_set_addresses(name):
    client = boto3.client("wafv2", region_name="us-east-1")
    summary = next(
        s for s in client.list_ip_sets(Scope="CLOUDFRONT")["IPSets"] if s["Name"] == name
    )
    return set(
        client.get_ip_set(Name=name, Scope="CLOUDFRONT", Id=summary["Id"])["IPSet"]["Addresses"]
    )


@pytest.mark.django_db
def test_initial_cidrs_seed_the_ip_sets_through_the_allowlist(
    tmp_path, account, aws_calls, settings
):
    settings.GATEHOUSE_EDGE_NAME = EDGE
    from accesscontrol.models import AllowedNetwork, AuditEvent

    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["81.2.69.0/24", "2a02:1234:5678::/48"]))
    run("--config", str(path), "--apply")
    assert _ip_set_addresses(f"{EDGE}-office-v4") == {"81.2.69.0/24"}
    assert _ip_set_addresses(f"{EDGE}-office-v6") == {"2a02:1234:5678::/48"}
    networks = {n.cidr: n.source for n in AllowedNetwork.objects.all()}
    assert networks == {"81.2.69.0/24": "bootstrap", "2a02:1234:5678::/48": "bootstrap"}
    assert AuditEvent.objects.filter(action="network.allow").count() == 2

    # From now on the sets belong to the app: a change made there survives --apply.
    from accesscontrol.services import Requester, allow_network

    allow_network(requester=Requester(), cidr="81.2.70.0/24", label="branch office")
    aws_calls.clear()
    assert "No changes." in run("--config", str(path), "--apply")
    assert not [op for op in aws_calls if op == "UpdateIPSet"]
    assert _ip_set_addresses(f"{EDGE}-office-v4") == {"81.2.69.0/24", "81.2.70.0/24"}


@pytest.mark.django_db
def test_refused_initial_cidr_names_the_key(tmp_path, account):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["10.0.0.0/8"]))
    from django.core.management import CommandError

    with pytest.raises(
        CommandError,
        match=r"key 'allowlist.initial_cidrs\[0\]': 10.0.0.0/8 would be refused by the app",
    ):
        run("--config", str(path), "--apply")


def test_systemd_unit_runs_gunicorn_from_an_env_file():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "deploy" / "gatehouse.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("gunicorn -c gunicorn.conf.py adminsite.wsgi")
    assert service["EnvironmentFile"] == "/etc/gatehouse/gatehouse.env"
    assert service["User"] == "gatehouse"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(REPO / "deploy" / "gatehouse-sync.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:*:00"  # every minute
