"""The least-privilege IAM policy that provision_infra and deploy_frontend need.

Creation-time resources cannot be scoped by ARN before they exist (AWS generates the
ids), so most statements use "*" with the narrowest action list; S3 is scoped to the
frontend bucket. The app's own runtime policy (WAF IP sets only) is separate: see README.
"""

from __future__ import annotations

import json
from typing import Any

from deploy.config import EdgeConfig

ACTIONS = {
    "WafEdge": [
        "wafv2:ListIPSets",
        "wafv2:GetIPSet",
        "wafv2:CreateIPSet",
        "wafv2:UpdateIPSet",
        "wafv2:DeleteIPSet",
        "wafv2:ListWebACLs",
        "wafv2:GetWebACL",
        "wafv2:CreateWebACL",
        "wafv2:UpdateWebACL",
        "wafv2:DeleteWebACL",
        "wafv2:TagResource",
        "wafv2:ListTagsForResource",
    ],
    "CloudFrontEdge": [
        "cloudfront:ListDistributions",
        "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig",
        "cloudfront:CreateDistribution",
        "cloudfront:CreateDistributionWithTags",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
        "cloudfront:TagResource",
        "cloudfront:ListTagsForResource",
        "cloudfront:ListOriginAccessControls",
        "cloudfront:GetOriginAccessControl",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl",
        "cloudfront:DeleteOriginAccessControl",
        "cloudfront:ListResponseHeadersPolicies",
        "cloudfront:GetResponseHeadersPolicy",
        "cloudfront:CreateResponseHeadersPolicy",
        "cloudfront:UpdateResponseHeadersPolicy",
        "cloudfront:DeleteResponseHeadersPolicy",
        "cloudfront:CreateInvalidation",
        "cloudfront:GetInvalidation",
        # Attaching the web ACL to the distribution is checked on the WAF side too.
        "wafv2:GetWebACLForResource",
        "acm:DescribeCertificate",
        "acm:ListCertificates",
    ],
    "NetworkEdge": [
        "ec2:DescribeManagedPrefixLists",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:CreateTags",
        "elasticloadbalancing:Describe*",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:AddTags",
        # The ALB creates its service-linked role on first use in an account.
        "iam:CreateServiceLinkedRole",
    ],
}


def policy_document(config: EdgeConfig | None = None) -> dict[str, Any]:
    bucket = config.frontend_bucket if config else "*"
    statements: list[dict[str, Any]] = [
        {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"}
        for sid, actions in ACTIONS.items()
    ]
    statements.append(
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
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(config: EdgeConfig | None = None) -> str:
    return json.dumps(policy_document(config), indent=2)
