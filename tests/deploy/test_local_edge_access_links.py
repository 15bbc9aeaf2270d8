"""The local edge evaluates the access-link rules as WAF does: a byte match on the URI
path after its text transformation, and per-address rate-based counting over the
evaluation window (counting only requests the scope-down statement matches)."""

from __future__ import annotations

import ipaddress

import pytest

from deploy import waf_rules
from deploy.localstack.edge import LocalEdge, RateCounter, WebAclJudge, _matches, _Request
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, config_text, run
from tests.deploy.test_local_edge import ALLOWED, ROOT, get, origin

OUTSIDER = "81.2.70.9"


def request(path: str, viewer: str = OUTSIDER) -> _Request:
    return _Request(ipaddress.ip_address(viewer), path, {})


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("/api/access/abc", True),
        ("/API/Access/abc", True),  # LOWERCASE before the comparison
        ("/api/access/", True),
        ("/api/access", False),
        ("/api/accessx/abc", False),
        ("/x/api/access/abc", False),  # STARTS_WITH, not CONTAINS
        ("/api/networks", False),
    ],
)
def test_byte_match_on_the_uri_path_with_lowercase(path, matches):
    assert _matches(waf_rules.access_path_statement(), request(path)) is matches


def test_byte_match_without_transformation_is_case_sensitive():
    statement = waf_rules.access_path_statement()
    statement["ByteMatchStatement"]["TextTransformations"] = [{"Priority": 0, "Type": "NONE"}]
    assert not _matches(statement, request("/API/access/abc"))
    assert _matches(statement, request("/api/access/abc"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rate_statement(limit: int = 10) -> dict:
    rule = waf_rules.access_link_rules("m", first_priority=1)[0]
    return {**rule["Statement"]["RateBasedStatement"], "Limit": limit}


def test_rate_rule_matches_once_an_address_is_over_the_limit_in_the_window():
    clock = Clock()
    counter = RateCounter(clock)
    statement = rate_statement(limit=10)
    verdicts = [counter.over_limit("r", statement, request("/api/access/x")) for _ in range(11)]
    assert verdicts == [False] * 10 + [True]
    # Another address has its own count; paths outside the scope-down are not counted.
    assert not counter.over_limit("r", statement, request("/api/access/x", "81.2.70.10"))
    assert not counter.over_limit("r", statement, request("/api/networks"))
    # Once the window has slid past the burst, the address is let through again.
    clock.now += 301
    assert not counter.over_limit("r", statement, request("/api/access/x"))


@pytest.fixture
def provisioned_with_links(account, tmp_path, settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    settings.GATEHOUSE_EDGE_NAME = EDGE
    path = tmp_path / "edge.toml"
    extra = 'block_contact = "Ask Ada."\n[access_links]\nenabled = true\n'
    path.write_text(config_text(account, initial_cidrs=(f"{ALLOWED}/32",), extra=extra))
    run("--config", str(path), "--apply")


@pytest.mark.django_db
def test_local_edge_lets_an_outsider_reach_only_the_access_path_and_rate_limits_it(
    provisioned_with_links,
):
    region_cf = aws_client("cloudfront", "us-east-1")
    distribution_id = region_cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    from deploy.localstack.edge import DistributionRoutes

    clock = Clock()
    edge = LocalEdge(
        judge=WebAclJudge(
            wafv2=aws_client("wafv2", "us-east-1"),
            web_acl_name=f"{EDGE}-edge",
            clock=clock,
        ),
        routes=DistributionRoutes(region_cf, distribution_id),
        origin_app=origin,
        static_root=ROOT / "frontend",
    )
    status, _, body = get(edge, "/api/networks", remote=OUTSIDER)
    assert status == 403
    assert b"Ask Ada." in body and waf_rules.ACCESS_LINK_HINT.encode() in body
    assert get(edge, "/", remote=OUTSIDER)[0] == 403  # the console stays blocked
    statuses = [get(edge, "/api/access/abc", remote=OUTSIDER)[0] for _ in range(51)]
    assert statuses == [200] * 50 + [429]  # origin reached 50 times, then WAF's 429
    assert get(edge, "/api/access/abc", remote="81.2.70.10")[0] == 200
    assert get(edge, "/api/access/abc", remote=ALLOWED)[0] == 200
    clock.now += 301
    assert get(edge, "/api/access/abc", remote=OUTSIDER)[0] == 200
