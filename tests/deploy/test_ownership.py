"""Ownership by tag (namesakes refused, --adopt, destroy skips them) and the Terraform-like
confirmation of --apply, --destroy and --rotate-origin-secret, against moto."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError

from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, mutating, run

pytestmark = pytest.mark.django_db

WAF_SCOPE = "CLOUDFRONT"


def elbv2():
    return aws_client("elbv2", REGION)


def wafv2():
    return aws_client("wafv2", "us-east-1")


def ec2():
    return aws_client("ec2", REGION)


def s3():
    return aws_client("s3", REGION)


def elb_tags(arn: str) -> dict[str, str]:
    [description] = elbv2().describe_tags(ResourceArns=[arn])["TagDescriptions"]
    return {t["Key"]: t["Value"] for t in description.get("Tags", [])}


def waf_tags(arn: str) -> dict[str, str]:
    info = wafv2().list_tags_for_resource(ResourceARN=arn)["TagInfoForResource"]
    return {t["Key"]: t["Value"] for t in info.get("TagList", [])}


def someone_elses_load_balancer(account, **tags: str) -> str:
    """An ALB with this edge's name that Gatehouse never created."""
    group = ec2().create_security_group(
        GroupName="their-alb", Description="theirs", VpcId=account["vpc_id"]
    )["GroupId"]
    kwargs = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
    return elbv2().create_load_balancer(
        Name=f"{EDGE}-alb",
        Subnets=account["subnet_ids"],
        SecurityGroups=[group],
        Scheme="internet-facing",
        **kwargs,
    )["LoadBalancers"][0]["LoadBalancerArn"]


def someone_elses_web_acl() -> str:
    return wafv2().create_web_acl(
        Name=f"{EDGE}-edge",
        Scope=WAF_SCOPE,
        # (an ACL without a description cannot be updated yet: deploy-core's item)
        Description="theirs",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": "theirs",
        },
    )["Summary"]["ARN"]


class Terminal(io.StringIO):
    """stdin of someone at a terminal who will type `answer`."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer + "\n")

    def isatty(self) -> bool:
        return True


# --- ownership ---------------------------------------------------------------------------


def test_untagged_namesake_is_refused_before_any_write(edge_config, account, aws_calls):
    lb_arn = someone_elses_load_balancer(account)
    acl_arn = someone_elses_web_acl()
    aws_calls.clear()
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply")
    message = str(caught.value)
    assert message.startswith("Refusing to touch resources this edge does not own")
    assert f"wafv2 web acl {EDGE}-edge ({acl_arn}) exists but is not tagged" in message
    assert f"alb load balancer {EDGE}-alb ({lb_arn}) exists but is not tagged" in message
    assert "run again with --adopt" in message
    assert mutating(aws_calls) == {}
    # The plan alone refuses the same way.
    with pytest.raises(CommandError, match="--adopt"):
        run("--config", str(edge_config))
    assert mutating(aws_calls) == {}


def test_namesake_of_another_edge_is_refused_even_with_adopt(edge_config, account, aws_calls):
    lb_arn = someone_elses_load_balancer(account, **{"gatehouse:edge": "other-edge"})
    aws_calls.clear()
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply", "--adopt")
    assert (
        f"alb load balancer {EDGE}-alb ({lb_arn}) is tagged gatehouse:edge=other-edge "
        "(another edge's)" in str(caught.value)
    )
    assert mutating(aws_calls) == {}


def test_adopt_tags_untagged_namesakes_and_shows_it_in_the_plan(edge_config, account):
    acl_arn = someone_elses_web_acl()
    s3().create_bucket(
        Bucket="gh-test-frontend", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3().put_bucket_tagging(
        Bucket="gh-test-frontend", Tagging={"TagSet": [{"Key": "team", "Value": "web"}]}
    )
    plan = run("--config", str(edge_config), "--adopt")
    assert f"~ wafv2 web acl {EDGE}-edge  (adopt {acl_arn}: untagged namesake)" in plan
    assert '      tags.gatehouse:edge: (none) -> "gh-test"' in plan
    assert "~ s3 bucket gh-test-frontend  (adopt arn:aws:s3:::gh-test-frontend" in plan
    assert waf_tags(acl_arn) == {}  # a plan changes nothing

    run("--config", str(edge_config), "--apply", "--adopt")
    assert waf_tags(acl_arn) == {"gatehouse:edge": EDGE}
    # The bucket keeps its owner's other tags.
    tags = s3().get_bucket_tagging(Bucket="gh-test-frontend")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "web", "gatehouse:edge": EDGE}
    # Owned from then on: no flag needed, nothing to change.
    assert "No changes." in run("--config", str(edge_config), "--apply")


def test_destroy_never_deletes_an_untagged_resource(edge_config, account, aws_calls):
    # Same names as this edge's, never created by it: what --destroy used to delete.
    lb_arn = someone_elses_load_balancer(account)
    elbv2().create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )
    acl_arn = someone_elses_web_acl()
    aws_calls.clear()
    output = run("--config", str(edge_config), "--destroy")
    assert "Nothing to destroy" in output
    assert "Left alone (never deleted: not owned by this edge):" in output
    assert f"alb load balancer {EDGE}-alb ({lb_arn}) exists but is not tagged" in output
    assert f"wafv2 web acl {EDGE}-edge ({acl_arn}) exists but is not tagged" in output
    assert mutating(aws_calls) == {}
    assert elbv2().describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    assert wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"]


def test_destroy_removes_what_is_ours_and_keeps_an_untagged_namesake(edge_config, account):
    run("--config", str(edge_config), "--apply")
    group = ec2().describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{EDGE}-alb"]}]
    )["SecurityGroups"][0]
    ec2().delete_tags(Resources=[group["GroupId"]], Tags=[{"Key": "gatehouse:edge"}])
    output = run("--config", str(edge_config), "--destroy")
    assert f"security group {EDGE}-alb ({group['GroupId']}) exists but is not tagged" in output
    assert ec2().describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    assert elbv2().describe_load_balancers()["LoadBalancers"] == []
    assert wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"] == []


def test_rotation_refuses_an_untagged_alb(edge_config, account):
    run("--config", str(edge_config), "--apply")
    lb = elbv2().describe_load_balancers(Names=[f"{EDGE}-alb"])["LoadBalancers"][0]
    elbv2().remove_tags(ResourceArns=[lb["LoadBalancerArn"]], TagKeys=["gatehouse:edge"])
    with pytest.raises(CommandError, match=f"alb load balancer {EDGE}-alb .* not tagged"):
        run("--config", str(edge_config), "--rotate-origin-secret")


# --- confirmation ------------------------------------------------------------------------


def test_apply_without_a_terminal_or_auto_approve_refuses(edge_config, aws_calls):
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply", approve=False, stdin=io.StringIO("yes\n"))
    assert "there is no terminal to ask on: nothing was changed" in str(caught.value)
    assert "--auto-approve" in str(caught.value)
    assert mutating(aws_calls) == {}


def test_apply_asks_and_only_yes_goes_on(edge_config, aws_calls):
    with pytest.raises(CommandError, match="Apply cancelled: nothing was changed."):
        run("--config", str(edge_config), "--apply", approve=False, stdin=Terminal("y"))
    assert mutating(aws_calls) == {}
    output = run("--config", str(edge_config), "--apply", approve=False, stdin=Terminal("yes"))
    assert "Do you want to perform these actions on edge gh-test?" in output
    assert output.index("Plan: 17 to add") < output.index("Enter a value:")
    assert "Apply complete" in output


def test_destroy_asks_before_deleting(edge_config):
    run("--config", str(edge_config), "--apply")
    with pytest.raises(CommandError, match="Destroy cancelled"):
        run("--config", str(edge_config), "--destroy", approve=False, stdin=Terminal("no"))
    assert wafv2().list_web_acls(Scope=WAF_SCOPE)["WebACLs"]
    with pytest.raises(CommandError, match="--auto-approve"):
        run("--config", str(edge_config), "--destroy", approve=False, stdin=io.StringIO())


def test_rotation_explains_the_order_before_it_acts(edge_config, aws_calls, monkeypatch):
    run("--config", str(edge_config), "--apply")
    aws_calls.clear()
    out = io.StringIO()
    with pytest.raises(CommandError, match="Rotation cancelled"):
        from django.core.management import call_command

        call_command(
            "provision_infra",
            "--config",
            str(edge_config),
            "--rotate-origin-secret",
            "--poll-interval",
            "0",
            stdin=Terminal("no"),
            stdout=out,
        )
    text = out.getvalue()
    assert "1/3 the ALB rule accepts the new and the old secret" in text
    assert "GATEHOUSE_ORIGIN_SECRET is not set" in text
    assert "GATEHOUSE_ORIGIN_SECRETS=<new>,<old>" in text
    assert text.index("GATEHOUSE_ORIGIN_SECRETS=<new>,<old>") < text.index("Enter a value:")
    assert mutating(aws_calls) == {}

    monkeypatch.setenv("GATEHOUSE_ORIGIN_SECRET", "a" * 64)
    output = run("--config", str(edge_config), "--rotate-origin-secret")
    assert "new = your GATEHOUSE_ORIGIN_SECRET" in output
    assert output.index("<new>,<old>") < output.index("Origin secret rotated")


def test_origin_access_control_used_by_another_distribution_is_refused(edge_config, aws_calls):
    cf = aws_client("cloudfront", "us-east-1")
    oac = cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": f"{EDGE}-frontend",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    theirs = cf.create_distribution(
        DistributionConfig={
            "CallerReference": "theirs",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": "theirs.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                        "OriginAccessControlId": oac,
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all"},
        }
    )["Distribution"]["Id"]
    aws_calls.clear()
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply")
    assert (
        f"cloudfront origin access control {EDGE}-frontend ({oac}) is used by CloudFront "
        f"distribution {theirs}, which is not this edge's" in str(caught.value)
    )
    assert mutating(aws_calls) == {}
    # --destroy leaves it (and their distribution) alone.
    output = run("--config", str(edge_config), "--destroy")
    assert f"cloudfront origin access control {EDGE}-frontend ({oac}) is used by" in output
    assert cf.get_origin_access_control(Id=oac)["OriginAccessControl"]["Id"] == oac


def test_response_headers_policy_used_by_another_distribution_is_refused(edge_config, aws_calls):
    """Response headers policies take no tags either: a namesake that another distribution
    uses is someone else's, refused by --apply and left alone by --destroy."""
    cf = aws_client("cloudfront", "us-east-1")
    policy = cf.create_response_headers_policy(
        ResponseHeadersPolicyConfig={
            "Name": f"{EDGE}-security-headers",
            "SecurityHeadersConfig": {
                "ContentTypeOptions": {"Override": True},
            },
        }
    )["ResponseHeadersPolicy"]["Id"]
    theirs = cf.create_distribution(
        DistributionConfig={
            "CallerReference": "theirs",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "web",
                        "DomainName": "theirs.example.com",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "web",
                "ViewerProtocolPolicy": "allow-all",
                "ResponseHeadersPolicyId": policy,
            },
        }
    )["Distribution"]["Id"]
    aws_calls.clear()
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply")
    assert (
        f"cloudfront response headers policy {EDGE}-security-headers ({policy}) is used by "
        f"CloudFront distribution {theirs}, which is not this edge's" in str(caught.value)
    )
    assert mutating(aws_calls) == {}
    output = run("--config", str(edge_config), "--destroy")
    assert f"cloudfront response headers policy {EDGE}-security-headers ({policy}) is used" in (
        output
    )
    assert cf.get_response_headers_policy(Id=policy)["ResponseHeadersPolicy"]["Id"] == policy
