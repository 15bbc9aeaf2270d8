"""deploy/aws.py's read_or_none and pages, and the engine naming a failed change."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from deploy.aws import pages, read_or_none
from deploy.engine import _apply
from deploy.errors import DeployError
from deploy.plan import Change


def stubbed(service: str) -> tuple[object, Stubber]:
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


def test_read_or_none_is_none_for_a_missing_code_only():
    client, stub = stubbed("elbv2")
    stub.add_client_error("describe_load_balancers", "LoadBalancerNotFound")
    stub.add_client_error("describe_load_balancers", "AccessDenied", "no")
    with stub:
        call = lambda: client.describe_load_balancers(Names=["x"])  # noqa: E731
        assert read_or_none(call, "LoadBalancerNotFound", action="Reading x") is None
        with pytest.raises(DeployError, match="^Reading x failed: AccessDenied: no. The AWS"):
            read_or_none(call, "LoadBalancerNotFound", action="Reading x")


def test_pages_follows_waf_next_marker_and_stops_on_an_empty_page():
    client, stub = stubbed("wafv2")
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/ipset/a/1"
    summary = {"Name": "a", "Id": "1", "ARN": arn, "LockToken": "t"}
    stub.add_response("list_ip_sets", {"IPSets": [summary], "NextMarker": "m1"})
    stub.add_response(
        "list_ip_sets",
        {"IPSets": [{**summary, "Name": "b"}], "NextMarker": "m2"},
        {"Scope": "CLOUDFRONT", "Limit": 100, "NextMarker": "m1"},
    )
    stub.add_response("list_ip_sets", {"IPSets": [], "NextMarker": "m3"})
    with stub:
        names = [
            s["Name"]
            for s in pages(client, "list_ip_sets", "IPSets", Scope="CLOUDFRONT", Limit=100)
        ]
    assert names == ["a", "b"]
    stub.assert_no_pending_responses()


def test_pages_sends_cloudfronts_marker_for_lists_without_a_paginator():
    client, stub = stubbed("cloudfront")
    assert not client.can_paginate("list_response_headers_policies")
    page = {
        "MaxItems": 1,
        "Quantity": 1,
        "Items": [
            {
                "Type": "custom",
                "ResponseHeadersPolicy": {
                    "Id": "p1",
                    "LastModifiedTime": datetime.datetime(2026, 1, 1),
                    "ResponseHeadersPolicyConfig": {"Name": "n"},
                },
            }
        ],
    }
    stub.add_response(
        "list_response_headers_policies",
        {"ResponseHeadersPolicyList": {**page, "NextMarker": "m1"}},
        {"Type": "custom"},
    )
    stub.add_response(
        "list_response_headers_policies",
        {"ResponseHeadersPolicyList": page},
        {"Type": "custom", "Marker": "m1"},
    )
    with stub:
        found = list(
            pages(
                client,
                "list_response_headers_policies",
                "ResponseHeadersPolicyList.Items",
                Type="custom",
            )
        )
    assert len(found) == 2


def test_pages_reads_no_further_page_once_the_caller_stops():
    client, stub = stubbed("elbv2")
    assert client.can_paginate("describe_rules")
    stub.add_response("describe_rules", {"Rules": [{"RuleArn": "r1"}], "NextMarker": "m1"})
    with stub:  # a second request would find no stubbed answer and fail
        first = next(iter(pages(client, "describe_rules", "Rules", ListenerArn="l")))
    assert first == {"RuleArn": "r1"}


def test_a_failed_change_is_named_by_its_title():
    client, stub = stubbed("elbv2")
    stub.add_client_error("delete_listener", "ResourceInUse", "busy")
    lines: list[str] = []

    class Ctx:
        out = staticmethod(lines.append)
        reads = {"distributions": ["stale"]}

    change = Change.delete(
        "alb listener", "gh-alb:80", lambda: client.delete_listener(ListenerArn="arn")
    )
    with stub, pytest.raises(DeployError) as caught:
        _apply(Ctx, change, [])
    assert str(caught.value).startswith(
        "Destroying alb listener gh-alb:80 failed: ResourceInUse: busy."
    )
    assert lines == ["  - alb listener gh-alb:80"]
    assert Ctx.reads == {}  # what was read before a write is read again
