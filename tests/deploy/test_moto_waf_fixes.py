"""WAF behaviour AWS documents and moto lacks, added in deploy/moto_fixes.py (applied to
the whole test session by tests/conftest.py). Each fix has a canary running moto as
released (`without_waf_fixes`): when a canary fails, moto gained the behaviour and the fix
can go."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.wafv2.exceptions import WAFOptimisticLockException, WAFv2ClientError
from moto.wafv2.models import FakeIPSet, wafv2_backends

from deploy import moto_fixes
from deploy.moto_fixes import record_sampled_request, without_waf_fixes

SCOPE = "CLOUDFRONT"
UUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")  # botocore's LockToken
VISIBILITY = {
    "SampledRequestsEnabled": False,
    "CloudWatchMetricsEnabled": False,
    "MetricName": "edge",
}


@pytest.fixture
def waf():
    with mock_aws():
        yield boto3.client("wafv2", region_name="us-east-1")


def addresses(count: int) -> list[str]:
    return [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}/32" for i in range(count)]


def create_ip_set(waf, count: int = 0) -> dict:
    return waf.create_ip_set(
        Name="office-v4", Scope=SCOPE, IPAddressVersion="IPV4", Addresses=addresses(count)
    )["Summary"]


def bodies(*sizes: int) -> dict:
    return {
        f"body{i}": {"ContentType": "TEXT_PLAIN", "Content": "x" * n} for i, n in enumerate(sizes)
    }


def create_web_acl(waf, response_bodies: dict) -> dict:
    return waf.create_web_acl(
        Name="edge",
        Scope=SCOPE,
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        CustomResponseBodies=response_bodies,
    )["Summary"]


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


# -- lock tokens -------------------------------------------------------------------------


def test_ip_set_lock_tokens_are_uuids_like_real_ones(waf):
    summary = create_ip_set(waf)
    read = waf.get_ip_set(Name="office-v4", Scope=SCOPE, Id=summary["Id"])
    updated = waf.update_ip_set(
        Name="office-v4", Scope=SCOPE, Id=summary["Id"], Addresses=[], LockToken=read["LockToken"]
    )

    for token in (summary["LockToken"], read["LockToken"], updated["NextLockToken"]):
        assert UUID.match(token), token
    assert updated["NextLockToken"] != read["LockToken"]
    assert (
        error_code(
            waf.update_ip_set,
            Name="office-v4",
            Scope=SCOPE,
            Id=summary["Id"],
            Addresses=[],
            LockToken=read["LockToken"],  # stale now
        )
        == "WAFOptimisticLockException"
    )


def test_canary_moto_hands_out_six_character_ip_set_tokens(waf):
    with without_waf_fixes():
        token = create_ip_set(waf)["LockToken"]
    assert len(token) == 6 and not UUID.match(token)


def race_two_writers(monkeypatch) -> list[str]:
    """Two writers holding the same token update one IP set at the same moment (moto's
    server runs each request in its own thread). Returns each writer's outcome."""
    backend = wafv2_backends[DEFAULT_ACCOUNT_ID]["global"]
    ip_set = backend.create_ip_set("race", SCOPE, "", "IPV4", [], [])
    token = backend.get_ip_set("race", SCOPE, ip_set.ip_set_id).lock_token
    both_inside = threading.Barrier(2, timeout=1)
    real_update = FakeIPSet.update

    def update_when_both_are_inside(self, *args, **kwargs):
        # Both passed the token check: the race is on. A broken barrier: only one got
        # in, the check and the update were one step.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_inside.wait()
        return real_update(self, *args, **kwargs)

    outcomes: list[str] = []

    def writer(address: str) -> None:
        try:
            backend.update_ip_set("race", SCOPE, ip_set.ip_set_id, None, [address], token)
            outcomes.append("won")
        except WAFOptimisticLockException:
            outcomes.append("conflict")

    # Undone on return, inside any `without_waf_fixes()` block that called us.
    with monkeypatch.context() as patch:
        patch.setattr(FakeIPSet, "update", update_when_both_are_inside)
        threads = [threading.Thread(target=writer, args=(a,)) for a in ("1.1.1.1/32", "2.2.2.2/32")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    return sorted(outcomes)


def test_two_writers_with_one_token_exactly_one_wins(waf, monkeypatch):
    assert race_two_writers(monkeypatch) == ["conflict", "won"]


def test_canary_moto_lets_both_writers_with_one_token_win(waf, monkeypatch):
    with without_waf_fixes():
        assert race_two_writers(monkeypatch) == ["won", "won"]
    assert hasattr(FakeIPSet.update, "__wrapped__")  # the fixes are back


# -- 10,000 addresses per IP set ---------------------------------------------------------


def test_an_ip_set_holds_at_most_10000_addresses(waf):
    summary = create_ip_set(waf, 10_000)
    token = waf.get_ip_set(Name="office-v4", Scope=SCOPE, Id=summary["Id"])["LockToken"]

    assert (
        error_code(
            waf.update_ip_set,
            Name="office-v4",
            Scope=SCOPE,
            Id=summary["Id"],
            Addresses=addresses(10_001),
            LockToken=token,
        )
        == "WAFLimitsExceededException"
    )
    assert error_code(
        waf.create_ip_set,
        Name="other",
        Scope=SCOPE,
        IPAddressVersion="IPV4",
        Addresses=addresses(10_001),
    ) == ("WAFLimitsExceededException")
    kept = waf.get_ip_set(Name="office-v4", Scope=SCOPE, Id=summary["Id"])
    assert len(kept["IPSet"]["Addresses"]) == 10_000 and kept["LockToken"] == token


def test_canary_moto_accepts_10001_addresses(waf):
    with without_waf_fixes():
        create_ip_set(waf, 10_001)


# -- custom response bodies --------------------------------------------------------------


def test_custom_response_bodies_respect_wafs_size_quotas(waf):
    assert error_code(create_web_acl, waf, bodies(4097)) == "WAFLimitsExceededException"
    assert error_code(create_web_acl, waf, bodies(*[4000] * 13)) == "WAFLimitsExceededException"
    assert error_code(create_web_acl, waf, bodies(*[1] * 51)) == "WAFLimitsExceededException"
    # 4 KB counts bytes: 2,049 two-byte characters are too many.
    too_wide = {"b": {"ContentType": "TEXT_PLAIN", "Content": "é" * 2049}}
    assert error_code(create_web_acl, waf, too_wide) == "WAFLimitsExceededException"

    summary = create_web_acl(waf, bodies(4096, *[4096] * 11))  # 48 KB in 12 bodies: fine
    acl = waf.get_web_acl(Name="edge", Scope=SCOPE, Id=summary["Id"])
    assert (
        error_code(
            waf.update_web_acl,
            Name="edge",
            Scope=SCOPE,
            Id=summary["Id"],
            DefaultAction={"Allow": {}},
            VisibilityConfig=VISIBILITY,
            LockToken=acl["LockToken"],
            CustomResponseBodies=bodies(5000),
        )
        == "WAFLimitsExceededException"
    )


def test_canary_moto_accepts_a_5000_byte_response_body(waf):
    with without_waf_fixes():
        create_web_acl(waf, bodies(5000))


# -- sampled requests --------------------------------------------------------------------


def sample(ip: str, *, ago: float) -> dict:
    return {
        "Request": {"ClientIP": ip, "Country": "--", "URI": "/", "Method": "GET", "Headers": []},
        "Weight": 1,
        "Timestamp": time.time() - ago,
        "Action": "BLOCK",
    }


def sampled(waf, arn: str, *, start: datetime, end: datetime, max_items: int = 100) -> dict:
    return waf.get_sampled_requests(
        WebAclArn=arn,
        RuleMetricName="edge",
        Scope=SCOPE,
        TimeWindow={"StartTime": start, "EndTime": end},
        MaxItems=max_items,
    )


def test_sampled_requests_come_from_the_last_three_hours_at_most_max_items(waf):
    arn = create_web_acl(waf, bodies(10))["ARN"]
    for ip, ago in (("192.0.2.1", 4 * 3600), ("192.0.2.2", 2 * 3600), ("192.0.2.3", 60)):
        assert record_sampled_request(
            web_acl_arn=arn, metric_name="edge", sample=sample(ip, ago=ago)
        )
    assert record_sampled_request(
        web_acl_arn=arn, metric_name="other", sample=sample("192.0.2.4", ago=1)
    )
    now = datetime.now(UTC)

    # A start earlier than three hours ago is moved up to three hours ago (the API's doc).
    answer = sampled(waf, arn, start=now - timedelta(hours=6), end=now)
    assert [s["Request"]["ClientIP"] for s in answer["SampledRequests"]] == [
        "192.0.2.2",
        "192.0.2.3",
    ]
    assert answer["PopulationSize"] == 2
    assert now - answer["TimeWindow"]["StartTime"] <= timedelta(hours=3, seconds=1)

    answer = sampled(waf, arn, start=now - timedelta(hours=1), end=now)
    assert [s["Request"]["ClientIP"] for s in answer["SampledRequests"]] == ["192.0.2.3"]
    assert (
        sampled(waf, arn, start=now - timedelta(hours=3), end=now, max_items=1)["PopulationSize"]
        == 2
    )
    assert (
        len(
            sampled(waf, arn, start=now - timedelta(hours=3), end=now, max_items=1)[
                "SampledRequests"
            ]
        )
        == 1
    )


def test_sampled_requests_refuse_what_waf_refuses(waf):
    arn = create_web_acl(waf, bodies(10))["ARN"]
    now = datetime.now(UTC)
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    assert error_code(sampled, waf, missing, start=now - timedelta(hours=1), end=now) == (
        "WAFNonexistentItemException"
    )
    # Outside botocore's model (the conformance guard refuses these before they are sent),
    # so straight to the fake:
    backend = wafv2_backends[DEFAULT_ACCOUNT_ID]["global"]
    window = {"StartTime": now.timestamp() - 60, "EndTime": now.timestamp()}
    for max_items in (0, 501):
        with pytest.raises(WAFv2ClientError) as caught:
            moto_fixes._sampled_requests(
                backend, web_acl_arn=arn, metric_name="edge", window=window, max_items=max_items
            )
        assert caught.value.error_type == "WAFInvalidParameterException"
    with pytest.raises(WAFv2ClientError) as caught:
        moto_fixes._sampled_requests(
            backend,
            web_acl_arn=arn,
            metric_name="edge",
            window={"StartTime": now.timestamp(), "EndTime": now.timestamp() - 60},
            max_items=10,
        )
    assert caught.value.error_type == "WAFInvalidParameterException"


def test_sampled_requests_are_kept_bounded_per_web_acl_and_metric(waf, monkeypatch):
    monkeypatch.setattr(moto_fixes, "WAF_SAMPLES_KEPT", 3)
    arn = create_web_acl(waf, bodies(10))["ARN"]
    for i in range(5):
        record_sampled_request(
            web_acl_arn=arn, metric_name="edge", sample=sample(f"192.0.2.{i}", ago=10 - i)
        )
    now = datetime.now(UTC)
    answer = sampled(waf, arn, start=now - timedelta(hours=1), end=now)
    assert [s["Request"]["ClientIP"] for s in answer["SampledRequests"]] == [
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
    ]
    # A web ACL that does not exist keeps nothing.
    assert not record_sampled_request(
        web_acl_arn=arn.rsplit("/", 1)[0] + "/x",
        metric_name="edge",
        sample=sample("192.0.2.9", ago=1),
    )


def test_canary_moto_has_no_get_sampled_requests(waf):
    arn = create_web_acl(waf, bodies(10))["ARN"]
    now = datetime.now(UTC)
    with without_waf_fixes(), pytest.raises(NotImplementedError, match="get_sampled_requests"):
        sampled(waf, arn, start=now - timedelta(hours=1), end=now)
    assert sampled(waf, arn, start=now - timedelta(hours=1), end=now)["SampledRequests"] == []
