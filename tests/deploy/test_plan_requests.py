"""What a no-op plan costs in AWS requests: reads only, and the distributions listed once
(ownership, the origin secret and the distribution's own plan all need them)."""

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
    # WAF logging: the log group read once (ownership and plan share it), its config once.
    assert aws_calls["DescribeLogGroups"] == 1
    assert aws_calls["GetLoggingConfiguration"] == 1
