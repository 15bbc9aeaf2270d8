"""The local edge records what it judges as WAF's sampled requests, into the moto backend
of its own process (as `make run` wires it), so GetSampledRequests on the web ACL's
default action answers the requests this edge really blocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accesscontrol import selectors
from accesscontrol.waf import WafWebAclGateway, forget_web_acl
from deploy.localstack.aws import record_sampled_request
from deploy.localstack.edge import (
    SAMPLE_HEADERS_KEPT,
    DistributionRoutes,
    LocalEdge,
    WebAclJudge,
)
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE
from tests.deploy.test_local_edge import ALLOWED, ROOT, get, origin, provisioned  # noqa: F401

OUTSIDER = "81.2.70.9"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_web_acl():
    forget_web_acl()
    yield
    forget_web_acl()


def test_requests_blocked_by_the_default_action_become_sampled_requests(provisioned):  # noqa: F811
    region_cf = aws_client("cloudfront", "us-east-1")
    distribution_id = region_cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    wafv2 = aws_client("wafv2", "us-east-1")
    edge = LocalEdge(
        judge=WebAclJudge(wafv2=wafv2, web_acl_name=f"{EDGE}-edge"),
        routes=DistributionRoutes(region_cf, distribution_id),
        origin_app=origin,
        static_root=ROOT / "frontend",
        trust_viewer_override=True,
        record_sample=record_sampled_request,
    )
    many_headers = {f"x_extra_{i}": "v" for i in range(SAMPLE_HEADERS_KEPT + 10)}
    unrecorded = LocalEdge(
        judge=edge.judge, routes=edge.routes, origin_app=origin, static_root=ROOT / "frontend"
    )
    assert get(unrecorded, "/", remote="81.2.70.10")[0] == 403  # no recorder: not sampled

    assert get(edge, "/", x_gatehouse_local_viewer=OUTSIDER, user_agent="curl/8")[0] == 403
    assert get(edge, "/api/networks", remote=OUTSIDER, **many_headers)[0] == 403
    assert get(edge, "/api/test1")[0] == 200  # allowed by the rule: not the default action

    sample = WafWebAclGateway.from_settings().sampled_requests()

    assert sample.web_acl.sampling_enabled  # provision_infra turns sampling on
    assert [
        (r.client_ip, r.uri, r.method, r.action, r.weight, r.country) for r in sample.requests
    ] == [
        (OUTSIDER, "/", "GET", "BLOCK", 1, "--"),
        (OUTSIDER, "/api/networks", "GET", "BLOCK", 1, "--"),
    ]
    first, second = sample.requests
    assert ("User-Agent", "curl/8") in first.headers
    assert not any(name == "X-Gatehouse-Local-Viewer" for name, _ in first.headers)
    assert len(second.headers) == SAMPLE_HEADERS_KEPT  # bounded
    assert datetime.now(UTC) - first.timestamp < timedelta(minutes=1)

    # The allowed request is sampled under the allow rule's metric, as WAF does.
    acl = sample.web_acl
    now = datetime.now(UTC)
    by_rule = wafv2.get_sampled_requests(
        WebAclArn=acl.arn,
        RuleMetricName=f"{acl.metric_name}allowoffice",
        Scope="CLOUDFRONT",
        TimeWindow={"StartTime": now - timedelta(hours=1), "EndTime": now},
        MaxItems=10,
    )["SampledRequests"]
    assert [(s["Request"]["ClientIP"], s["Action"]) for s in by_rule] == [(ALLOWED, "ALLOW")]

    [blocked] = selectors.recently_blocked().addresses
    assert (blocked.address, blocked.count, blocked.paths) == (OUTSIDER, 2, ["/api/networks", "/"])
