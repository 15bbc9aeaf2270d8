"""The console's security headers (issue 12, item 11): a CloudFront response headers
policy on both behaviours, planned like any resource, removed after the distribution; and
the fake of that API in deploy/moto_fixes.py, which moto 5.2.5 lacks."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from deploy.cloudfront import policy_headers
from deploy.headers import SECURITY_HEADERS
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, apply_edge, run

pytestmark = pytest.mark.django_db

POLICY = f"{EDGE}-security-headers"


def cloudfront():
    return aws_client("cloudfront", "us-east-1")


def policies() -> dict[str, dict]:
    items = (
        cloudfront()
        .list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
        .get("Items")
        or []
    )
    return {
        i["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]: i[
            "ResponseHeadersPolicy"
        ]
        for i in items
    }


def distribution_config() -> dict:
    [dist] = cloudfront().list_distributions()["DistributionList"]["Items"]
    return cloudfront().get_distribution_config(Id=dist["Id"])["DistributionConfig"]


def minimal_policy(name: str = "p", csp: str = "default-src 'self'") -> dict:
    return {
        "Name": name,
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": csp}
        },
    }


# --- the fake and its canary ----------------------------------------------------------------


def test_moto_alone_has_no_response_headers_policy_api():
    """Canary: moto 5.2.5 has no route for this API (404). If this fails, moto has gained
    it and the fake in deploy/moto_fixes.py should go."""
    with mock_aws(), pytest.raises(ClientError) as caught:
        cloudfront().create_response_headers_policy(ResponseHeadersPolicyConfig=minimal_policy())
    assert caught.value.response["Error"]["Code"] == "404"


def test_fake_policy_round_trips_and_refuses_like_cloudfront(aws):
    created = cloudfront().create_response_headers_policy(
        ResponseHeadersPolicyConfig=minimal_policy()
    )
    policy_id = created["ResponseHeadersPolicy"]["Id"]
    got = cloudfront().get_response_headers_policy(Id=policy_id)
    assert got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == minimal_policy()
    assert got["ETag"] == created["ETag"]

    def code(call, **kwargs) -> str:
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        return caught.value.response["Error"]["Code"]

    client = cloudfront()
    config = minimal_policy()
    assert (
        code(client.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
        == "ResponseHeadersPolicyAlreadyExists"
    )
    assert (
        code(
            client.create_response_headers_policy,
            ResponseHeadersPolicyConfig=minimal_policy("q", "x" * 1784),
        )
        == "TooLongCSPInResponseHeadersPolicy"
    )
    assert (
        code(
            client.update_response_headers_policy,
            Id=policy_id,
            IfMatch="stale",
            ResponseHeadersPolicyConfig=config,
        )
        == "PreconditionFailed"
    )
    assert code(client.get_response_headers_policy, Id="nope") == "NoSuchResponseHeadersPolicy"
    updated = client.update_response_headers_policy(
        Id=policy_id, IfMatch=got["ETag"], ResponseHeadersPolicyConfig=minimal_policy(csp="a")
    )
    assert updated["ETag"] != got["ETag"]
    client.delete_response_headers_policy(Id=policy_id, IfMatch=updated["ETag"])
    assert policies() == {}


# --- provisioning -----------------------------------------------------------------------------


@pytest.fixture
def applied(edge_config):
    return apply_edge(edge_config)


def test_policy_drift_is_planned_and_restored(applied, edge_config, aws_calls):
    policy = policies()[POLICY]
    etag = cloudfront().get_response_headers_policy(Id=policy["Id"])["ETag"]
    loosened = policy["ResponseHeadersPolicyConfig"]
    loosened["SecurityHeadersConfig"]["FrameOptions"]["FrameOption"] = "SAMEORIGIN"
    cloudfront().update_response_headers_policy(
        Id=policy["Id"], IfMatch=etag, ResponseHeadersPolicyConfig=loosened
    )
    plan = run("--config", str(edge_config))
    assert f"~ cloudfront response headers policy {POLICY}" in plan
    assert '"X-Frame-Options": "SAMEORIGIN"' in plan
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan
    run("--config", str(edge_config), "--apply")
    assert policy_headers(policies()[POLICY]["ResponseHeadersPolicyConfig"])["headers"] == (
        SECURITY_HEADERS
    )
    from tests.deploy.conftest import mutating

    aws_calls.clear()
    assert "No changes." in run("--config", str(edge_config), "--apply")
    assert mutating(aws_calls) == {}


def test_distribution_without_the_policy_is_drift(applied, edge_config):
    [dist] = cloudfront().list_distributions()["DistributionList"]["Items"]
    response = cloudfront().get_distribution_config(Id=dist["Id"])
    config = response["DistributionConfig"]
    config["DefaultCacheBehavior"].pop("ResponseHeadersPolicyId")
    cloudfront().update_distribution(
        Id=dist["Id"], IfMatch=response["ETag"], DistributionConfig=config
    )
    plan = run("--config", str(edge_config))
    assert "default_behaviour.response_headers_policy: (none) ->" in plan


def test_destroy_removes_the_policy_after_the_distribution(applied, edge_config):
    output = run("--config", str(edge_config), "--destroy")
    assert output.index("- cloudfront distribution") < output.index(
        f"- cloudfront response headers policy {POLICY}"
    )
    assert policies() == {}
