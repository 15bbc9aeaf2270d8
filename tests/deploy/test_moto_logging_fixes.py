"""WAF logging behaviour AWS documents and moto lacks, added in deploy/moto_fixes.py
(apply_waf_fixes, applied to the whole test session by tests/conftest.py). Each fix has a
canary running moto as released (`without_waf_fixes`): when a canary fails, moto gained
the behaviour and the fix can go."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from deploy.moto_fixes import without_waf_fixes

VISIBILITY = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "e"}


@pytest.fixture
def clients():
    with mock_aws():
        yield (
            boto3.client("wafv2", region_name="us-east-1"),
            boto3.client("logs", region_name="us-east-1"),
        )


def web_acl(waf) -> str:
    response = waf.create_web_acl(
        Name="edge", Scope="CLOUDFRONT", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY
    )
    return response["Summary"]["ARN"]


def log_group(logs, name: str) -> str:
    logs.create_log_group(logGroupName=name)
    [group] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return group["logGroupArn"]


def put(waf, acl: str, destination: str) -> None:
    waf.put_logging_configuration(
        LoggingConfiguration={"ResourceArn": acl, "LogDestinationConfigs": [destination]}
    )


def code(call, *args) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args)
    return caught.value.response["Error"]["Code"]


def test_a_destination_without_the_waf_prefix_is_refused(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "my-app-logs")
    assert code(put, waf, acl, destination) == "WAFInvalidParameterException"


def test_canary_moto_accepts_a_destination_without_the_waf_prefix(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "my-app-logs")
    with without_waf_fixes():
        put(waf, acl, destination)


def test_a_destination_with_the_trailing_wildcard_is_refused(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "aws-waf-logs-edge")
    assert code(put, waf, acl, f"{destination}:*") == "WAFInvalidParameterException"
    put(waf, acl, destination)  # the ARN as logGroupArn gives it is fine


def test_canary_moto_accepts_the_trailing_wildcard(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "aws-waf-logs-edge")
    with without_waf_fixes():
        put(waf, acl, f"{destination}:*")


def test_logging_for_a_missing_web_acl_is_refused(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "aws-waf-logs-edge")
    missing = acl.replace("/webacl/edge/", "/webacl/gone/")
    assert code(put, waf, missing, destination) == "WAFNonexistentItemException"


def test_canary_moto_accepts_logging_for_a_missing_web_acl(clients):
    waf, logs = clients
    acl, destination = web_acl(waf), log_group(logs, "aws-waf-logs-edge")
    with without_waf_fixes():
        put(waf, acl.replace("/webacl/edge/", "/webacl/gone/"), destination)


def retention(logs, days: int) -> None:
    logs.put_retention_policy(logGroupName="aws-waf-logs-edge", retentionInDays=days)


def test_a_retention_outside_cloudwatchs_list_is_refused(clients):
    _, logs = clients
    log_group(logs, "aws-waf-logs-edge")
    assert code(retention, logs, 42) == "InvalidParameterException"
    retention(logs, 30)


def test_canary_moto_accepts_any_retention(clients):
    _, logs = clients
    log_group(logs, "aws-waf-logs-edge")
    with without_waf_fixes():
        retention(logs, 42)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 42
