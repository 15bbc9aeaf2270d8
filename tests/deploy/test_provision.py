"""provision_infra against moto: the whole edge from an empty account, idempotence, drift,
destroy, secret handling. Every assertion reads AWS back through the API."""

from __future__ import annotations

import boto3
import pytest
from django.core.management import CommandError

from deploy import cloudfront as cf_module
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, apply_edge, config_text, mutating, run

pytestmark = pytest.mark.django_db

WAF_SCOPE = "CLOUDFRONT"


def wafv2():
    return aws_client("wafv2", "us-east-1")


def cloudfront():
    return aws_client("cloudfront", "us-east-1")


def elbv2():
    return aws_client("elbv2", REGION)


def ec2():
    return aws_client("ec2", REGION)


def s3():
    return aws_client("s3", REGION)


def web_acl():
    summary = next(
        a for a in wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"] if a["Name"] == f"{EDGE}-edge"
    )
    response = wafv2().get_web_acl(Name=summary["Name"], Scope=WAF_SCOPE, Id=summary["Id"])
    return response["WebACL"], response["LockToken"]


def ip_sets():
    return {s["Name"]: s for s in wafv2().list_ip_sets(Scope=WAF_SCOPE)["IPSets"]}


def distribution():
    items = cloudfront().list_distributions()["DistributionList"].get("Items") or []
    assert len(items) == 1
    response = cloudfront().get_distribution_config(Id=items[0]["Id"])
    return items[0], response["DistributionConfig"], response["ETag"]


def load_balancer():
    return elbv2().describe_load_balancers(Names=[f"{EDGE}-alb"])["LoadBalancers"][0]


def listeners():
    lb = load_balancer()
    return {
        listener["Port"]: listener
        for listener in elbv2().describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Listeners"
        ]
    }


def secret_rule():
    rules = elbv2().describe_rules(ListenerArn=listeners()[443]["ListenerArn"])["Rules"]
    custom = [r for r in rules if not r["IsDefault"]]
    assert len(custom) == 1
    return custom[0]


def security_group():
    return ec2().describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{EDGE}-alb"]}]
    )["SecurityGroups"][0]


def origin_header(config) -> str:
    alb = next(o for o in config["Origins"]["Items"] if o["DomainName"] == "api-origin.example.com")
    return {h["HeaderName"]: h["HeaderValue"] for h in alb["CustomHeaders"]["Items"]}[
        "X-Origin-Verify"
    ]


@pytest.fixture
def applied(edge_config):
    return apply_edge(edge_config)


def test_plan_alone_changes_nothing(edge_config, aws_calls):
    output = run("--config", str(edge_config))
    assert "Plan: 17 to add, 0 to change, 0 to destroy." in output
    assert "Nothing was changed. Run again with --apply" in output
    assert mutating(aws_calls) == {}
    assert wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"] == []


def widen_security_group():
    group = security_group()
    ec2().authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )


def open_listener_default():
    elbv2().modify_listener(
        ListenerArn=listeners()[443]["ListenerArn"],
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": secret_rule()["Actions"][0]["TargetGroupArn"]}
        ],
    )


def allow_by_default():
    acl, token = web_acl()
    wafv2().update_web_acl(
        Name=acl["Name"],
        Scope=WAF_SCOPE,
        Id=acl["Id"],
        LockToken=token,
        DefaultAction={"Allow": {}},
        Rules=acl["Rules"],
        VisibilityConfig=acl["VisibilityConfig"],
    )


def cut_api_methods():
    dist, config, etag = distribution()
    config["CacheBehaviors"]["Items"][0]["AllowedMethods"] = {
        "Quantity": 2,
        "Items": ["GET", "HEAD"],
        "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
    }
    cloudfront().update_distribution(Id=dist["Id"], IfMatch=etag, DistributionConfig=config)


def assert_security_group_restored():
    [perm] = security_group()["IpPermissions"]
    assert perm["FromPort"] == 443 and perm.get("IpRanges", []) == []


def assert_listener_restored():
    assert listeners()[443]["DefaultActions"][0]["Type"] == "fixed-response"


def assert_waf_blocks_by_default():
    assert "Block" in web_acl()[0]["DefaultAction"]


def assert_methods_restored():
    _, config, _ = distribution()
    assert config["CacheBehaviors"]["Items"][0]["AllowedMethods"]["Quantity"] == 7


@pytest.mark.parametrize(
    ("drift", "expected_line", "restored"),
    [
        (widen_security_group, "~ security group gh-test-alb", assert_security_group_restored),
        (open_listener_default, "~ alb listener gh-test-alb:443", assert_listener_restored),
        (allow_by_default, "~ wafv2 web acl gh-test-edge", assert_waf_blocks_by_default),
        (cut_api_methods, "~ cloudfront distribution gh-test", assert_methods_restored),
    ],
    ids=["widened-sg", "listener-default", "waf-default-allow", "api-methods-cut"],
)
def test_out_of_band_drift_is_planned_and_restored(
    applied, edge_config, aws_calls, drift, expected_line, restored
):
    drift()
    plan = run("--config", str(edge_config))
    assert expected_line in plan
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan
    run("--config", str(edge_config), "--apply")
    restored()
    aws_calls.clear()
    assert "No changes." in run("--config", str(edge_config), "--apply")
    assert mutating(aws_calls) == {}


def test_drift_plan_shows_old_and_new_values(applied, edge_config):
    widen_security_group()
    allow_by_default()
    cut_api_methods()
    plan = run("--config", str(edge_config))
    assert "tcp 0-65535 from 0.0.0.0/0" in plan
    assert 'default_action: {"Allow": {}} -> {"Block":' in plan
    assert 'behaviour./api/*.allowed_methods: ["GET", "HEAD"] -> ["DELETE", "GET"' in plan


def test_unmanaged_listener_rule_is_removed(applied, edge_config):
    tg = secret_rule()["Actions"][0]["TargetGroupArn"]
    elbv2().create_rule(
        ListenerArn=listeners()[443]["ListenerArn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    plan = run("--config", str(edge_config))
    assert "- alb listener rule gh-test-alb:443 priority 1" in plan
    run("--config", str(edge_config), "--apply")
    secret_rule()  # asserts exactly one non-default rule remains


def test_secret_is_never_shown_in_a_plan(applied, edge_config):
    _, config, _ = distribution()
    secret = origin_header(config)
    elbv2().modify_rule(
        RuleArn=secret_rule()["RuleArn"],
        Conditions=[
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["x" * 40]},
            }
        ],
    )
    plan = run("--config", str(edge_config))
    assert "secrets: (sensitive value) -> (sensitive value)" in plan
    assert secret not in plan and "x" * 40 not in plan
    run("--config", str(edge_config), "--apply")
    assert secret_rule()["Conditions"][0]["HttpHeaderConfig"]["Values"] == [secret]


def test_secret_from_environment_is_used_on_first_apply(edge_config, monkeypatch):
    supplied = "a" * 16 + "b" * 16 + "0123456789abcdef"
    monkeypatch.setenv("GATEHOUSE_ORIGIN_SECRET", supplied)
    output = run("--config", str(edge_config), "--apply")
    assert origin_header(distribution()[1]) == supplied
    assert secret_rule()["Conditions"][0]["HttpHeaderConfig"]["Values"] == [supplied]
    assert supplied not in output  # the operator already has it


def test_weak_secret_from_environment_is_refused(edge_config, monkeypatch):
    monkeypatch.setenv("GATEHOUSE_ORIGIN_SECRET", "short*")
    with pytest.raises(CommandError, match="GATEHOUSE_ORIGIN_SECRET must be 32-128 characters"):
        run("--config", str(edge_config), "--apply")


def test_rotation_leaves_exactly_one_new_secret_accepted(
    applied, edge_config, aws_calls, monkeypatch
):
    old = origin_header(distribution()[1])
    seen_rule_values = []
    real_session = boto3.Session

    def session(*args, **kwargs):
        made = real_session(*args, **kwargs)

        def capture(model, params, **kw):
            if model.name == "ModifyRule":
                seen_rule_values.append(params["Conditions"][0]["HttpHeaderConfig"]["Values"])

        made.events.register("before-parameter-build", capture)
        return made

    monkeypatch.setattr(boto3, "Session", session)
    output = run("--config", str(edge_config), "--rotate-origin-secret")
    new = origin_header(distribution()[1])
    assert new != old
    # Both accepted while CloudFront switched over, then only the new one.
    assert seen_rule_values == [[new, old], [new]]
    assert secret_rule()["Conditions"][0]["HttpHeaderConfig"]["Values"] == [new]
    assert f"GATEHOUSE_ORIGIN_SECRETS={new}" in output
    assert old not in output
    assert "No changes." in run("--config", str(edge_config), "--apply")


def test_rotation_without_an_edge_fails_clearly(edge_config):
    with pytest.raises(CommandError, match="There is no edge to rotate"):
        run("--config", str(edge_config), "--rotate-origin-secret")


def tagged_leftovers(account) -> list[str]:
    left = []
    left += [s["Name"] for s in wafv2().list_ip_sets(Scope=WAF_SCOPE)["IPSets"]]
    left += [a["Name"] for a in wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"]]
    left += [
        c["ResourceArn"]
        for c in wafv2().list_logging_configurations(Scope=WAF_SCOPE)["LoggingConfigurations"]
    ]
    logs = aws_client("logs", "us-east-1")
    left += [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    left += [
        d["Id"] for d in cloudfront().list_distributions()["DistributionList"].get("Items") or []
    ]
    left += [
        o["Name"]
        for o in cloudfront().list_origin_access_controls()["OriginAccessControlList"].get("Items")
        or []
    ]
    left += [lb["LoadBalancerName"] for lb in elbv2().describe_load_balancers()["LoadBalancers"]]
    left += [tg["TargetGroupName"] for tg in elbv2().describe_target_groups()["TargetGroups"]]
    left += [
        g["GroupName"]
        for g in ec2().describe_security_groups(
            Filters=[{"Name": "tag:gatehouse:edge", "Values": [EDGE]}]
        )["SecurityGroups"]
    ]
    left += [b["Name"] for b in s3().list_buckets()["Buckets"]]
    return left


def test_destroy_leaves_nothing_tagged_behind(applied, edge_config, account, tmp_path):
    (tmp_path / "site").mkdir()
    s3().put_object(Bucket="gh-test-frontend", Key="index.html", Body=b"<p>hi</p>")
    plan_and_destroy = run("--config", str(edge_config), "--destroy")
    assert "to destroy." in plan_and_destroy
    assert "disabling the distribution first" in plan_and_destroy
    assert tagged_leftovers(account) == []
    # The user's own network stays.
    assert ec2().describe_vpcs(VpcIds=[account["vpc_id"]])["Vpcs"]
    assert "Nothing to destroy" in run("--config", str(edge_config), "--destroy")


def test_apply_after_destroy_builds_the_edge_again(applied, edge_config, aws_calls):
    run("--config", str(edge_config), "--destroy")
    output = run("--config", str(edge_config), "--apply")
    assert "Plan: 17 to add" in output
    aws_calls.clear()
    assert "No changes." in run("--config", str(edge_config), "--apply")
    assert mutating(aws_calls) == {}


def test_subnets_in_one_zone_are_refused_before_any_change(tmp_path, account, aws_calls):
    path = tmp_path / "edge.toml"
    subnets = f'"{account["subnet_ids"][0]}", "{account["same_az_subnet"]}"'
    path.write_text(config_text(account, subnets=subnets))
    with pytest.raises(CommandError) as caught:
        run("--config", str(path), "--apply")
    assert str(caught.value) == (
        f"{path}: key 'network.subnet_ids': all subnets are in eu-west-1a; an ALB needs subnets "
        "in at least 2 availability zones. Add a subnet from another zone."
    )
    assert mutating(aws_calls) == {}


def test_origin_hostname_not_on_the_certificate_is_refused(tmp_path, account, aws_calls):
    other = aws_client("acm", REGION).request_certificate(
        DomainName="other.example.org", ValidationMethod="DNS"
    )["CertificateArn"]
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, origin_cert=other))
    with pytest.raises(
        CommandError, match="covers other.example.org but not api-origin.example.com"
    ):
        run("--config", str(path), "--apply")
    assert mutating(aws_calls) == {}


def test_bucket_of_someone_else_is_refused(edge_config, aws_calls):
    s3().create_bucket(
        Bucket="gh-test-frontend", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    with pytest.raises(CommandError, match="exists but is not tagged gatehouse:edge=gh-test"):
        run("--config", str(edge_config), "--apply")


def test_managed_policy_ids_are_the_documented_ones():
    assert cf_module.CACHING_DISABLED == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert cf_module.ALL_VIEWER_AND_CLOUDFRONT_HEADERS == "33f36d7e-f396-46d9-90e0-52428a34d9dc"


def test_aws_failure_becomes_a_command_error_with_a_hint(edge_config, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    def denied(self, *args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not authorized to perform CreateIPSet")

    monkeypatch.setattr(WAFV2Backend, "create_ip_set", denied)
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply")
    assert str(caught.value) == (
        "Creating wafv2 ip set gh-test-office-v4 failed: AccessDeniedException: not authorized "
        "to perform CreateIPSet. The AWS identity lacks a permission: compare it with "
        "`python manage.py provision_infra --print-iam-policy`."
    )
