"""WAF logging provisioned by provision_infra against moto: the log group
aws-waf-logs-<edge> (us-east-1, tagged, retention from the config) and the web ACL's
logging configuration (the group's ARN without ':*', authorization and cookie redacted):
created, left alone when unchanged, drift planned and restored, destroyed in reverse."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from deploy.config import ConfigError, load_config
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, apply_edge, config_text, run

pytestmark = pytest.mark.django_db

GROUP = f"aws-waf-logs-{EDGE}"


def logs():
    return aws_client("logs", "us-east-1")


def wafv2():
    return aws_client("wafv2", "us-east-1")


def group():
    found = [g for g in logs().describe_log_groups()["logGroups"] if g["logGroupName"] == GROUP]
    return found[0] if found else None


def acl_arn():
    acls = wafv2().list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    return next(a["ARN"] for a in acls if a["Name"] == f"{EDGE}-edge")


def logging_config():
    try:
        return wafv2().get_logging_configuration(ResourceArn=acl_arn())["LoggingConfiguration"]
    except wafv2().exceptions.WAFNonexistentItemException:
        return None


@pytest.fixture
def applied(edge_config):
    return apply_edge(edge_config)


def test_apply_creates_the_log_group_and_the_logging_configuration(applied):
    assert f"+ logs log group {GROUP}" in applied
    assert f"+ wafv2 logging configuration {EDGE}-edge" in applied
    created = group()
    assert created["retentionInDays"] == 30  # the default
    tags = logs().list_tags_for_resource(resourceArn=created["logGroupArn"])["tags"]
    assert tags["gatehouse:edge"] == EDGE
    config = logging_config()
    # WAF takes the group's ARN without DescribeLogGroups' trailing ":*".
    assert config["LogDestinationConfigs"] == [created["logGroupArn"]]
    assert not config["LogDestinationConfigs"][0].endswith(":*")
    assert config["LogDestinationConfigs"][0].startswith("arn:aws:logs:us-east-1:")
    assert config["RedactedFields"] == [
        {"SingleHeader": {"Name": "authorization"}},
        {"SingleHeader": {"Name": "cookie"}},
    ]


def test_unchanged_is_a_no_op_and_a_new_retention_an_update(applied, edge_config, account):
    assert "No changes." in run("--config", str(edge_config))
    edge_config.write_text(config_text(account, extra="\n[logging]\nwaf_retention_days = 90\n"))
    plan = run("--config", str(edge_config))
    assert f"~ logs log group {GROUP}" in plan
    assert "retention_in_days: 30 -> 90" in plan
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan
    run("--config", str(edge_config), "--apply")
    assert group()["retentionInDays"] == 90


def test_drift_is_planned_and_restored(applied, edge_config):
    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    wafv2().put_logging_configuration(
        LoggingConfiguration={
            "ResourceArn": acl_arn(),
            "LogDestinationConfigs": [group()["logGroupArn"]],
            "RedactedFields": [{"SingleHeader": {"Name": "cookie"}}],
        }
    )
    plan = run("--config", str(edge_config))
    assert "retention_in_days: 7 -> 30" in plan
    assert f"~ wafv2 logging configuration {EDGE}-edge" in plan
    assert 'redacted_headers: ["cookie"] -> ["authorization", "cookie"]' in plan
    run("--config", str(edge_config), "--apply")
    assert group()["retentionInDays"] == 30
    assert len(logging_config()["RedactedFields"]) == 2
    assert "No changes." in run("--config", str(edge_config))

    # Logging turned off outside: turned on again.
    wafv2().delete_logging_configuration(ResourceArn=acl_arn())
    assert f"+ wafv2 logging configuration {EDGE}-edge" in run("--config", str(edge_config))
    run("--config", str(edge_config), "--apply")
    assert logging_config() is not None

    # The group deleted outside: made again, and logging points at it.
    logs().delete_log_group(logGroupName=GROUP)
    run("--config", str(edge_config), "--apply")
    assert group()["retentionInDays"] == 30
    assert logging_config()["LogDestinationConfigs"] == [group()["logGroupArn"]]


def test_destroy_removes_the_logging_configuration_then_the_group(applied, edge_config, account):
    # Another edge's group is never destroyed (found by name, refused by its tag).
    other = "aws-waf-logs-someone-else"
    logs().create_log_group(logGroupName=other, tags={"gatehouse:edge": "someone-else"})
    output = run("--config", str(edge_config), "--destroy")
    assert output.index(f"- wafv2 logging configuration {EDGE}-edge") < output.index(
        f"- logs log group {GROUP}"
    )
    assert output.index(f"- logs log group {GROUP}") < output.index(f"- wafv2 web acl {EDGE}-edge")
    assert group() is None
    assert wafv2().list_logging_configurations(Scope="CLOUDFRONT")["LoggingConfigurations"] == []
    assert [g["logGroupName"] for g in logs().describe_log_groups()["logGroups"]] == [other]


def test_an_untagged_namesake_log_group_is_refused(edge_config):
    logs().create_log_group(logGroupName=GROUP)
    with pytest.raises(CommandError, match=GROUP):
        run("--config", str(edge_config), "--apply")
    assert logs().list_tags_for_resource(resourceArn=group()["logGroupArn"])["tags"] == {}


def test_a_namesake_of_another_edge_is_left_alone_by_destroy(applied, edge_config):
    logs().tag_resource(resourceArn=group()["logGroupArn"], tags={"gatehouse:edge": "other"})
    output = run("--config", str(edge_config), "--destroy")
    assert f"- logs log group {GROUP}" not in output
    assert group() is not None


@pytest.mark.parametrize("days", [0, 2, 42, 10000])
def test_a_retention_cloudwatch_does_not_offer_is_a_config_error(tmp_path, account, days):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, extra=f"\n[logging]\nwaf_retention_days = {days}\n"))
    with pytest.raises(ConfigError, match="logging.waf_retention_days"):
        load_config(path)
