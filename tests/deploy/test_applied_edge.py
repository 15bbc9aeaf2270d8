"""provision_infra's edge read back: one edge, applied once for this module (module-scoped
moto, account and apply: `applied_edge` in conftest.py), shared by tests that only read
it. Tests that change the edge, or need an empty account, are in test_provision.py and
test_response_headers_policy.py, each with its own moto."""

from __future__ import annotations

import json
import re

import pytest

from deploy.cloudfront import policy_headers
from deploy.headers import SECURITY_HEADERS
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, mutating, run
from tests.deploy.test_provision import (
    WAF_SCOPE,
    cloudfront,
    distribution,
    ec2,
    elbv2,
    ip_sets,
    listeners,
    load_balancer,
    origin_header,
    s3,
    secret_rule,
    security_group,
    wafv2,
    web_acl,
)
from tests.deploy.test_response_headers_policy import POLICY, distribution_config, policies

pytestmark = pytest.mark.django_db


# The conftest's function-scoped fixtures of the same names, from the one applied edge.
@pytest.fixture(scope="module")
def account(applied_edge) -> dict:
    return applied_edge.account


@pytest.fixture(scope="module")
def edge_config(applied_edge):
    return applied_edge.config


@pytest.fixture(scope="module")
def applied(applied_edge) -> str:
    return applied_edge.output


def test_apply_on_empty_account_creates_the_whole_edge(applied, account):
    # WAF: one IP set per version, CLOUDFRONT scope in us-east-1.
    sets = ip_sets()
    assert set(sets) == {f"{EDGE}-office-v4", f"{EDGE}-office-v6"}
    versions = {
        name: wafv2().get_ip_set(Name=name, Scope=WAF_SCOPE, Id=s["Id"])["IPSet"][
            "IPAddressVersion"
        ]
        for name, s in sets.items()
    }
    assert versions == {f"{EDGE}-office-v4": "IPV4", f"{EDGE}-office-v6": "IPV6"}
    assert aws_client("wafv2", REGION).list_ip_sets(Scope="REGIONAL")["IPSets"] == []

    # Web ACL: allow v4 OR v6 set, default Block with a custom 403 body.
    acl, _ = web_acl()
    block = acl["DefaultAction"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 403
    body = acl["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert body["ContentType"] == "TEXT_HTML" and "Access denied" in body["Content"]
    [rule] = acl["Rules"]
    assert rule["Action"] == {"Allow": {}}
    referenced = {
        s["IPSetReferenceStatement"]["ARN"] for s in rule["Statement"]["OrStatement"]["Statements"]
    }
    assert referenced == {s["ARN"] for s in sets.values()}

    # S3: private bucket, public access block on, policy for this distribution only.
    dist, config, _ = distribution()
    pab = s3().get_public_access_block(Bucket="gh-test-frontend")["PublicAccessBlockConfiguration"]
    assert pab == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    [statement] = json.loads(s3().get_bucket_policy(Bucket="gh-test-frontend")["Policy"])[
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}
    assert s3().get_bucket_location(Bucket="gh-test-frontend")["LocationConstraint"] == REGION

    # CloudFront.
    assert config["Enabled"] is True
    assert config["Aliases"]["Items"] == ["admin.example.com"]
    assert config["WebACLId"] == acl["ARN"]
    cert = config["ViewerCertificate"]
    assert cert["ACMCertificateArn"] == account["app_cert"]
    assert cert["ACMCertificateArn"].split(":")[3] == "us-east-1"
    assert cert["SSLSupportMethod"] == "sni-only"
    assert cert["MinimumProtocolVersion"] == "TLSv1.2_2021"
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    s3_origin = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert s3_origin["DomainName"] == f"gh-test-frontend.s3.{REGION}.amazonaws.com"
    oacs = cloudfront().list_origin_access_controls()["OriginAccessControlList"]["Items"]
    [oac] = [o for o in oacs if o["Name"] == f"{EDGE}-frontend"]
    assert s3_origin["OriginAccessControlId"] == oac["Id"]
    assert (
        oac["SigningProtocol"],
        oac["SigningBehavior"],
        oac["OriginAccessControlOriginType"],
    ) == (
        "sigv4",
        "always",
        "s3",
    )
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    [api] = config["CacheBehaviors"]["Items"]
    assert api["PathPattern"] == "/api/*"
    assert api["ViewerProtocolPolicy"] == "redirect-to-https"
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert api["OriginRequestPolicyId"] == "33f36d7e-f396-46d9-90e0-52428a34d9dc"
    assert sorted(api["AllowedMethods"]["Items"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    )
    alb_origin = origins[api["TargetOriginId"]]
    assert alb_origin["DomainName"] == "api-origin.example.com"
    assert alb_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    secret = origin_header(config)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    tags = cloudfront().list_tags_for_resource(Resource=dist["ARN"])["Tags"]["Items"]
    assert {"Key": "gatehouse:edge", "Value": EDGE} in tags

    # Security group: 443 only, only from CloudFront's managed prefix list (found by name).
    pl = ec2().describe_managed_prefix_lists(
        Filters=[
            {
                "Name": "prefix-list-name",
                "Values": ["com.amazonaws.global.cloudfront.origin-facing"],
            }
        ]
    )["PrefixLists"][0]["PrefixListId"]
    group = security_group()
    assert group["VpcId"] == account["vpc_id"]
    [perm] = group["IpPermissions"]
    assert (perm["IpProtocol"], perm["FromPort"], perm["ToPort"]) == ("tcp", 443, 443)
    assert [p["PrefixListId"] for p in perm["PrefixListIds"]] == [pl]
    assert perm.get("IpRanges", []) == [] and perm.get("Ipv6Ranges", []) == []

    # ALB, listeners, secret rule, target group.
    lb = load_balancer()
    assert lb["Scheme"] == "internet-facing" and lb["Type"] == "application"
    assert lb["State"]["Code"] == "active"
    assert lb["SecurityGroups"] == [group["GroupId"]]
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(account["subnet_ids"])
    https, http = listeners()[443], listeners()[80]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"][0]["CertificateArn"] == account["origin_cert"]
    [default_action] = https["DefaultActions"]
    assert default_action["Type"] == "fixed-response"
    assert default_action["FixedResponseConfig"]["StatusCode"] == "403"
    assert http["Protocol"] == "HTTP"
    [redirect] = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"]) == (
        "HTTPS",
        "443",
    )
    rule = secret_rule()
    [condition] = rule["Conditions"]
    assert condition["Field"] == "http-header"
    assert condition["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify"
    assert condition["HttpHeaderConfig"]["Values"] == [secret]
    tg = elbv2().describe_target_groups(Names=[f"{EDGE}-app"])["TargetGroups"][0]
    assert rule["Actions"][0]["Type"] == "forward"
    assert rule["Actions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("HTTP", 8000, "ip")
    assert (tg["HealthCheckProtocol"], tg["HealthCheckPath"]) == ("HTTP", "/api/health")
    targets = elbv2().describe_target_health(TargetGroupArn=tg["TargetGroupArn"])[
        "TargetHealthDescriptions"
    ]
    assert sorted(t["Target"]["Id"] for t in targets) == ["10.20.1.10", "10.20.2.10"]

    # Output: the secret once, the DNS records, the outputs.
    assert f"GATEHOUSE_ORIGIN_SECRETS={secret}" in applied
    assert f"admin.example.com  ->  {dist['DomainName']}" in applied
    assert f"api-origin.example.com  ->  {lb['DNSName']}" in applied
    assert "CloudFront" in applied and "Deployed" in applied and "ALB: active" in applied


def test_second_apply_makes_no_mutating_calls(applied, edge_config, aws_calls):
    output = run("--config", str(edge_config), "--apply")
    assert "No changes." in output
    assert sum(aws_calls.values()) > 0  # it did read everything
    assert mutating(aws_calls) == {}
    assert "GATEHOUSE_ORIGIN_SECRETS" not in output  # the secret is not printed again


def test_both_behaviours_send_the_security_headers(applied):
    policy = policies()[POLICY]
    config = distribution_config()
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == policy["Id"]
    [api] = config["CacheBehaviors"]["Items"]
    assert api["ResponseHeadersPolicyId"] == policy["Id"]
    sent = policy_headers(policy["ResponseHeadersPolicyConfig"])
    assert sent["headers"] == SECURITY_HEADERS
    assert sent["headers"]["Content-Security-Policy"] == (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    assert sent["headers"]["X-Frame-Options"] == "DENY"
    assert len(sent["override_origin"]) == 5  # CloudFront's value wins over the origin's
