"""What a no-op plan costs in AWS requests: reads only, and every lookup by name made once
(ownership reads everything it later plans: the distributions, the web ACL, the ALB, the
security group, the bucket, the OAC and the response headers policy)."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import mutating, run

pytestmark = pytest.mark.django_db


def test_a_no_op_plan_only_reads_and_lists_distributions_once(edge_config, aws_calls):
    run("--config", str(edge_config), "--apply")
    aws_calls.clear()

    output = run("--config", str(edge_config))

    assert "No changes." in output
    assert mutating(aws_calls) == {}
    assert aws_calls["ListDistributions"] == 1  # was 6
    # was 7; then 4: 3 WAF resources, 1 distribution; now 5 with the WAF log group.
    assert aws_calls["ListTagsForResource"] == 5
    # Ownership's reads are the stages' reads (ctx.read_once): one of each, not two; so is
    # the WAF log group's, and its logging configuration is read once.
    for lookup in (
        "ListIPSets",
        "ListWebACLs",
        "GetWebACL",
        "HeadBucket",
        "GetBucketTagging",
        "ListOriginAccessControls",
        "ListResponseHeadersPolicies",
        "DescribeSecurityGroups",
        "DescribeTargetGroups",
        "DescribeLoadBalancers",
        "DescribeListeners",
        "DescribeRules",
        "DescribeLogGroups",
        "GetLoggingConfiguration",
    ):
        assert aws_calls[lookup] == 1, lookup
    assert sum(aws_calls.values()) == 30  # was 39 before WAF logging (now 27 of those)
