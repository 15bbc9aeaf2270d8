"""Repairs no other test drives: each sends requests the conformance guard checks
(deploy/conformance.py), so every AWS operation provisioning can call is held to
botocore's models at least once per run (ModifyTargetGroup, DeregisterTargets,
SetSubnets, SetSecurityGroups, UpdateOriginAccessControl)."""

from __future__ import annotations

import pytest

from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, apply_edge, config_text, run

pytestmark = pytest.mark.django_db


def elbv2():
    return aws_client("elbv2", REGION)


def ec2():
    return aws_client("ec2", REGION)


def load_balancer():
    return elbv2().describe_load_balancers(Names=[f"{EDGE}-alb"])["LoadBalancers"][0]


def target_group():
    return elbv2().describe_target_groups(LoadBalancerArn=load_balancer()["LoadBalancerArn"])[
        "TargetGroups"
    ][0]


@pytest.fixture
def applied(edge_config):
    apply_edge(edge_config)
    return edge_config


def test_health_check_drift_is_put_back(applied):
    elbv2().modify_target_group(
        TargetGroupArn=target_group()["TargetGroupArn"], HealthCheckPath="/somewhere-else"
    )

    run("--config", str(applied), "--apply")

    assert target_group()["HealthCheckPath"] == "/api/health"


def test_a_target_removed_from_the_config_is_deregistered(applied, account):
    applied.write_text(
        config_text(account).replace('"10.20.1.10", "10.20.2.10"', '"10.20.1.10", "10.20.2.11"')
    )

    run("--config", str(applied), "--apply")

    health = elbv2().describe_target_health(TargetGroupArn=target_group()["TargetGroupArn"])
    assert sorted(t["Target"]["Id"] for t in health["TargetHealthDescriptions"]) == [
        "10.20.1.10",
        "10.20.2.11",
    ]


def test_load_balancer_subnets_and_security_groups_drift_is_put_back(applied, account):
    lb = load_balancer()
    other_zone = ec2().create_subnet(
        VpcId=account["vpc_id"], CidrBlock="10.20.9.0/24", AvailabilityZone=f"{REGION}c"
    )["Subnet"]["SubnetId"]
    other_group = ec2().create_security_group(
        GroupName="someone-elses", Description="not ours", VpcId=account["vpc_id"]
    )["GroupId"]
    elbv2().set_subnets(
        LoadBalancerArn=lb["LoadBalancerArn"], Subnets=[account["subnet_ids"][0], other_zone]
    )
    elbv2().set_security_groups(LoadBalancerArn=lb["LoadBalancerArn"], SecurityGroups=[other_group])

    run("--config", str(applied), "--apply")

    lb = load_balancer()
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(account["subnet_ids"])
    assert other_group not in lb["SecurityGroups"]


def test_origin_access_control_drift_is_put_back(applied):
    cloudfront = aws_client("cloudfront", "us-east-1")
    [oac] = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    current = cloudfront.get_origin_access_control(Id=oac["Id"])
    config = current["OriginAccessControl"]["OriginAccessControlConfig"]
    cloudfront.update_origin_access_control(
        Id=oac["Id"],
        IfMatch=current["ETag"],
        OriginAccessControlConfig={**config, "SigningBehavior": "no-override"},
    )

    run("--config", str(applied), "--apply")

    restored = cloudfront.get_origin_access_control(Id=oac["Id"])["OriginAccessControl"]
    assert restored["OriginAccessControlConfig"]["SigningBehavior"] == "always"
