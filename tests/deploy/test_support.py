"""The pieces around the engine: moto fixes, IAM policy, IP set names, seeding, systemd."""

import configparser
import fnmatch
import io
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.management import CommandError, call_command
from moto import mock_aws

from deploy import waf
from deploy.config import load_config
from deploy.iam import policy_document
from deploy.moto_fixes import apply_moto_fixes
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, config_text, run

REPO = Path(__file__).resolve().parents[2]


def _distribution_with_oac():
    cf = aws_client("cloudfront", "us-east-1")
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


def _target_groups(count: int) -> list[str]:
    ec2 = aws_client("ec2", "eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    elbv2 = aws_client("elbv2", "eu-west-1")
    return [
        elbv2.create_target_group(Name=f"tg{i}", Protocol="HTTP", Port=80, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for i in range(count)
    ]


def test_moto_fix_limits_elb_describe_tags_to_20_arns():
    undo = apply_moto_fixes()
    try:
        with mock_aws():
            arns = _target_groups(21)
            elbv2 = aws_client("elbv2", "eu-west-1")
            assert len(elbv2.describe_tags(ResourceArns=arns[:20])["TagDescriptions"]) == 20
            with pytest.raises(ClientError, match="up to 20 resources"):
                elbv2.describe_tags(ResourceArns=arns)
    finally:
        undo()


def test_unpatched_moto_takes_more_than_20_arns_so_the_limit_is_needed():
    """If this fails, moto enforces the limit itself: its fix in moto_fixes.py can go."""
    with mock_aws():
        arns = _target_groups(21)
        response = aws_client("elbv2", "eu-west-1").describe_tags(ResourceArns=arns)
    assert len(response["TagDescriptions"]) == 21


def test_ownership_reads_elb_tags_20_arns_at_a_time(edge_config, aws_calls):
    from deploy.aws import AwsClients
    from deploy.context import Context
    from deploy.ownership import elb_tags

    undo = apply_moto_fixes()
    try:
        arns = _target_groups(45)
        aws_calls.clear()
        ctx = Context(config=load_config(edge_config), clients=AwsClients(region="eu-west-1"))
        assert set(elb_tags(ctx, arns)) == set(arns)
    finally:
        undo()
    assert aws_calls["DescribeTags"] == 3


def test_ip_set_names_are_the_ones_the_architecture_names():
    assert [waf.ip_set_name(EDGE, v) for v in (4, 6)] == [f"{EDGE}-office-v4", f"{EDGE}-office-v6"]


def _actions(statement) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)


def _allowed_actions(policy) -> set[str]:
    return {a for s in policy["Statement"] for a in _actions(s)}


ACCOUNT = "123456789012"  # moto's


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
    with pytest.raises(CommandError):  # no edge to answer over HTTP here; the AWS reads count
        run("--config", str(edge_config), "--verify")
    run("--config", str(edge_config), "--destroy")
    allowed = _allowed_actions(policy_document(load_config(edge_config), account_id=ACCOUNT))
    missing = {a for a in used if not any(fnmatch.fnmatchcase(a, pattern) for pattern in allowed)}
    assert missing == set()


def print_policy(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("provision_infra", "--print-iam-policy", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def test_print_iam_policy_is_json_scoped_to_the_bucket(edge_config):
    policy, _ = print_policy("--config", str(edge_config))
    [bucket] = [s for s in policy["Statement"] if s["Sid"] == "FrontendBucket"]
    assert bucket["Resource"] == [
        "arn:aws:s3:::gh-test-frontend",
        "arn:aws:s3:::gh-test-frontend/*",
    ]


READ_ONLY = ("Get", "List", "Describe", "Head")
DESTRUCTIVE = (
    "Delete",
    "Update",
    "Modify",
    "Revoke",
    "Deregister",
    "Set",
    "Put",
    "Remove",
    "Authorize",
    "Register",
    "Create",
    "Add",
    "Tag",
)


# WAF logging: AWS requires these of PutLoggingConfiguration's caller with a wildcard
# resource (log deliveries have no resource-level permissions; the resource-policy update
# names no single log group). Scoped to the account and us-east-1 where possible.
UNSCOPABLE = {"logs:*LogDelivery", "logs:PutResourcePolicy"}


def test_no_destructive_action_is_unscoped(edge_config):
    policy, _ = print_policy("--config", str(edge_config), "--account-id", "111122223333")
    unscoped = []
    for statement in policy["Statement"]:
        everything = any(r == "*" or r.endswith(":*") for r in _resources(statement))
        for action in _actions(statement):
            verb = action.split(":", 1)[1]
            if verb.startswith(READ_ONLY):
                continue
            # A leading wildcard (`*OriginAccessControl`) includes Create/Update/Delete.
            assert verb.startswith(DESTRUCTIVE) or verb.startswith("*"), f"classify {action}"
            if everything and "Condition" not in statement and action not in UNSCOPABLE:
                unscoped.append(action)
    assert unscoped == []
    # The account id is the one given (the certificates' ARNs come from the config).
    arns = [r for s in policy["Statement"] if s["Sid"] != "Certificates" for r in _resources(s)]
    assert not [a for a in arns if a.split(":")[4:5] not in ([""], ["111122223333"], [])]


def _statements_with(policy, action):
    """The statements that allow `action` (IAM action wildcards match)."""
    return [
        s for s in policy["Statement"] if any(fnmatch.fnmatchcase(action, a) for a in _actions(s))
    ]


def test_policy_scopes_each_service_the_way_it_supports(edge_config):
    policy, _ = print_policy("--config", str(edge_config), "--account-id", "111122223333")
    waf_arns = "arn:aws:wafv2:us-east-1:111122223333:global"
    [waf_delete] = _statements_with(policy, "wafv2:DeleteIPSet")
    assert waf_delete["Resource"] == [
        f"arn:aws:logs:us-east-1:111122223333:log-group:aws-waf-logs-{EDGE}",
        f"{waf_arns}/ipset/{EDGE}-office-v4/*",
        f"{waf_arns}/ipset/{EDGE}-office-v6/*",
        f"{waf_arns}/webacl/{EDGE}-edge/*",
    ]
    tag_condition = {"StringEquals": {"aws:ResourceTag/gatehouse:edge": EDGE}}
    for action in (
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyListener",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:DeleteSecurityGroup",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
    ):
        [statement] = _statements_with(policy, action)
        assert statement["Condition"] == tag_condition, action
    for action in ("elasticloadbalancing:CreateLoadBalancer", "cloudfront:TagResource"):
        [statement] = _statements_with(policy, action)
        assert statement["Condition"] == {
            "StringEquals": {"aws:RequestTag/gatehouse:edge": EDGE}
        }, action
    on_create = [
        s for s in _statements_with(policy, "ec2:CreateTags") if "ec2:CreateAction" in str(s)
    ]
    assert on_create[0]["Condition"]["StringEquals"]["ec2:CreateAction"] == "CreateSecurityGroup"
    [linked] = _statements_with(policy, "iam:CreateServiceLinkedRole")
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    }
    assert "elasticloadbalancing.amazonaws.com" in linked["Resource"]


def test_account_id_defaults_to_the_callers(edge_config):
    policy, _ = print_policy("--config", str(edge_config))
    assert f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/{EDGE}-edge/*" in json.dumps(policy)


def test_policy_over_the_inline_user_limit_says_so(edge_config):
    policy, err = print_policy("--config", str(edge_config), "--account-id", "111122223333")
    size = len("".join(json.dumps(policy).split()))
    # Room for longer names and regions than the test's: 600 characters until WAF logging
    # (issue 17) took 300 of them; the next addition should split the policy in two.
    assert 2048 < size < 6144 - 400
    assert f"this policy is {size} characters without whitespace" in err
    assert "2,048" in err and "customer managed policy" in err


def test_print_iam_policy_needs_a_config_and_a_real_account_id(edge_config):
    with pytest.raises(CommandError, match="--print-iam-policy needs --config FILE"):
        print_policy()
    with pytest.raises(CommandError, match="an AWS account id is 12 digits"):
        print_policy("--config", str(edge_config), "--account-id", "12345")


def _ip_set_addresses(name):
    client = aws_client("wafv2", "us-east-1")
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


def test_systemd_sync_unit_stays_up_and_syncs_every_minute():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "deploy" / "gatehouse-sync.service")
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["ExecStart"].endswith("manage.py sync_waf --every 60")
    assert service["Restart"] == "on-failure"
    assert service["ExecReload"] == "/bin/kill -s USR1 $MAINPID"  # sync now
    assert service["EnvironmentFile"] == "/etc/gatehouse/gatehouse.env"
    assert (service["User"], service["NoNewPrivileges"], service["ProtectSystem"]) == (
        "gatehouse",
        "true",
        "strict",
    )
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert not (REPO / "deploy" / "gatehouse-sync.timer").exists()
