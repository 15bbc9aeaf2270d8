"""The least-privilege IAM policy that provision_infra and deploy_frontend need.

Scoped to one edge (its config: name, region, VPC, certificates, bucket) and one account:

- WAF: every action on the edge's own ARNs (`global/ipset/<name>-office-v4/*`, `-v6`,
  `global/webacl/<name>-edge/*`); only the List calls, which take no resource, on "*".
- ELB, EC2 and CloudFront mutations are conditioned on the `gatehouse:edge` tag: on the
  resource (`aws:ResourceTag/gatehouse:edge`) for changes and deletions, on the request
  (`aws:RequestTag/gatehouse:edge`) for tagging, which is how tag-on-create is authorised
  (ELB CreateLoadBalancer/Listener/Rule/TargetGroup also need AddTags;
  `ec2:CreateAction` limits CreateTags to CreateSecurityGroup; CloudFront
  CreateDistributionWithTags needs TagResource). ELB resources are also limited by ARN
  to the edge's names.
- Exceptions, with why: ELB DeleteRule on listener rules of the edge's ALB by ARN (hand-
  added rules carry no tag and are removed as drift); the OAC (CloudFront OACs take no
  tags and get random ids) on `origin-access-control/*` of the account.
- WAF logging: the log group's own actions on its ARN; the log-delivery actions WAF's
  PutLoggingConfiguration needs of its caller on "*" (AWS asks for a wildcard there).
- `iam:CreateServiceLinkedRole` only for elasticloadbalancing.amazonaws.com.
- Describe/List/Get calls without resource-level permissions stay on "*".
- `AdoptUntaggedNamesakes` (tagging an untagged security group) is only needed for
  --adopt.
- It stays under the 6,144 characters of a customer managed policy (tested); it is over
  the 2,048 of a user's inline policies, which the command says.

The app's own runtime policy is separate (`app_policy_document`, shown in README): it
rewrites the contents of the two IP sets and reads the web ACL's sampled requests (the
console's Blocked screen), nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from accesscontrol.edge import ip_set_name, web_acl_name
from deploy.alb import lb_name, tg_name
from deploy.aws import EDGE_TAG, GLOBAL_REGION, aws_errors
from deploy.config import EdgeConfig
from deploy.waf_logging import log_group_name

# IAM's size limits, whitespace excluded: all inline policies of a user together, and one
# customer managed policy.
INLINE_USER_POLICY_LIMIT = 2048
MANAGED_POLICY_LIMIT = 6144


def caller_account_id(*, region: str) -> str:
    """The account of the current credentials (STS GetCallerIdentity needs no permission)."""
    import boto3

    with aws_errors("Reading the AWS account id (STS GetCallerIdentity)"):
        return boto3.Session().client("sts", region_name=region).get_caller_identity()["Account"]


def _tag(condition: str, name: str) -> dict[str, Any]:
    return {"StringEquals": {f"aws:{condition}/{EDGE_TAG}": name}}


def app_policy_document(*, edge_name: str, account_id: str) -> dict[str, Any]:
    """The policy of the app's runtime identity (the targets' instance profile or task
    role, used by gunicorn and the scheduled sync_waf): GetIPSet/UpdateIPSet on its two IP
    sets, GetWebACL/GetSampledRequests on its web ACL (both take the web ACL as resource),
    and the two List calls, which take no resource, on "*"."""
    waf = f"arn:aws:wafv2:{GLOBAL_REGION}:{account_id}:global"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["wafv2:GetIPSet", "wafv2:UpdateIPSet"],
                "Resource": [
                    f"{waf}/ipset/{ip_set_name(edge_name, 4)}/*",
                    f"{waf}/ipset/{ip_set_name(edge_name, 6)}/*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["wafv2:GetWebACL", "wafv2:GetSampledRequests"],
                "Resource": f"{waf}/webacl/{web_acl_name(edge_name)}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["wafv2:ListIPSets", "wafv2:ListWebACLs"],
                "Resource": "*",
            },
        ],
    }


def policy_document(config: EdgeConfig, *, account_id: str) -> dict[str, Any]:
    name = config.name
    region = config.region
    waf = f"arn:aws:wafv2:{GLOBAL_REGION}:{account_id}:global"
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
    alb = lb_name(name)
    # `*/app/<alb>/*` is the ALB, its listeners and their rules; then the target group.
    elb_arns = [f"{elb}:*/app/{alb}/*", f"{elb}:targetgroup/{tg_name(name)}/*"]
    security_groups = f"arn:aws:ec2:{region}:{account_id}:security-group/*"
    distributions = f"arn:aws:cloudfront::{account_id}:distribution/*"
    bucket = config.frontend_bucket
    waf_log_group = f"arn:aws:logs:{GLOBAL_REGION}:{account_id}:log-group:{log_group_name(name)}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOnlyNoResourceLevel",
            "Effect": "Allow",
            "Action": [
                "wafv2:ListIPSets",
                "wafv2:ListWebACLs",
                "wafv2:GetWebACLForResource",
                "cloudfront:ListDistributions",
                "cloudfront:ListOriginAccessControls",
                "cloudfront:ListResponseHeadersPolicies",
                "ec2:DescribeManagedPrefixLists",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "elasticloadbalancing:Describe*",
                "acm:ListCertificates",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
            ],
            "Resource": "*",
        },
        {
            "Sid": "WafEdgeOwnArns",
            "Effect": "Allow",
            # `*IPSet`, `*WebACL`, `*LoggingConfiguration`: Get/Create/Update/Delete/Put
            # of these ARNs only (the List calls end in a plural and are above).
            "Action": [
                "wafv2:*IPSet",
                "wafv2:*WebACL",
                "wafv2:*LoggingConfiguration",
                "wafv2:TagResource",
                "wafv2:ListTagsForResource",
                # The WAF log group (us-east-1, aws-waf-logs-<edge>), in this statement to
                # stay under IAM's size limit. `*LogGroup`: Create, Delete and the legacy
                # tag calls of this group only.
                "logs:*LogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:ListTagsForResource",
            ],
            "Resource": [
                waf_log_group,
                f"{waf}/ipset/{ip_set_name(name, 4)}/*",
                f"{waf}/ipset/{ip_set_name(name, 6)}/*",
                f"{waf}/webacl/{web_acl_name(name)}/*",
            ],
        },
        {
            # What WAF's PutLoggingConfiguration needs of its caller to set up delivery
            # (CloudWatch Logs then adds its log-delivery resource policy itself). Log
            # deliveries have no resource-level permissions, and AWS asks for a wildcard
            # on the resource policy: "*" is the only resource that works.
            "Sid": "WafLogDelivery",
            "Effect": "Allow",
            "Action": ["logs:*LogDelivery", "logs:PutResourcePolicy"],
            "Resource": "*",
        },
        {
            "Sid": "Certificates",
            "Effect": "Allow",
            "Action": "acm:DescribeCertificate",
            "Resource": sorted({config.app_certificate_arn, config.origin_certificate_arn}),
        },
        {
            "Sid": "CloudFrontReadAndCreate",
            "Effect": "Allow",
            "Action": [
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:ListTagsForResource",
                "cloudfront:GetInvalidation",
                "cloudfront:CreateDistribution",
                "cloudfront:CreateDistributionWithTags",
            ],
            "Resource": distributions,
        },
        {
            "Sid": "CloudFrontTagOnCreate",
            "Effect": "Allow",
            "Action": "cloudfront:TagResource",
            "Resource": distributions,
            "Condition": _tag("RequestTag", name),
        },
        {
            "Sid": "CloudFrontChangeOwn",
            "Effect": "Allow",
            "Action": [
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
                "cloudfront:CreateInvalidation",
            ],
            "Resource": distributions,
            "Condition": _tag("ResourceTag", name),
        },
        {
            # OACs and response headers policies take no tags: found by the edge's name.
            # `*X` is exactly Get/Create/Update/Delete of X (List* ends in a plural).
            "Sid": "CloudFrontUntaggable",
            "Effect": "Allow",
            "Action": ["cloudfront:*OriginAccessControl", "cloudfront:*ResponseHeadersPolicy"],
            "Resource": [
                f"arn:aws:cloudfront::{account_id}:origin-access-control/*",
                f"arn:aws:cloudfront::{account_id}:response-headers-policy/*",
            ],
        },
        {
            "Sid": "SecurityGroupCreateInVpc",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": f"arn:aws:ec2:{region}:{account_id}:vpc/{config.vpc_id}",
        },
        {
            "Sid": "SecurityGroupCreateTagged",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": security_groups,
            "Condition": _tag("RequestTag", name),
        },
        {
            "Sid": "SecurityGroupTagOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": security_groups,
            "Condition": {
                "StringEquals": {
                    "ec2:CreateAction": "CreateSecurityGroup",
                    f"aws:RequestTag/{EDGE_TAG}": name,
                }
            },
        },
        {
            "Sid": "SecurityGroupChangeOwn",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "Resource": security_groups,
            "Condition": _tag("ResourceTag", name),
        },
        {
            "Sid": "LoadBalancerCreateTagged",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:AddTags",
            ],
            "Resource": elb_arns,
            "Condition": _tag("RequestTag", name),
        },
        {
            "Sid": "LoadBalancerChangeOwn",
            "Effect": "Allow",
            # Wildcards keep the policy under IAM's size limits; the resources and the tag
            # condition are what scope them.
            "Action": [
                "elasticloadbalancing:Delete*",
                "elasticloadbalancing:Modify*",
                "elasticloadbalancing:Set*",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateRule",
            ],
            "Resource": elb_arns,
            "Condition": _tag("ResourceTag", name),
        },
        {
            "Sid": "LoadBalancerRemoveHandAddedRules",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DeleteRule",
            "Resource": f"{elb}:listener-rule/app/{alb}/*",
        },
        {
            "Sid": "LoadBalancerServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:aws:iam::{account_id}:role/aws-service-role/"
            "elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            "Condition": {
                "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
            },
        },
        {
            # Only --adopt tags an existing security group (ELB AddTags, wafv2:TagResource
            # and s3:PutBucketTagging are granted above on the edge's own resources).
            "Sid": "AdoptUntaggedNamesakes",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": security_groups,
            "Condition": _tag("RequestTag", name),
        },
        {
            "Sid": "FrontendBucket",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(config: EdgeConfig, *, account_id: str) -> str:
    return json.dumps(policy_document(config, account_id=account_id), indent=2)
