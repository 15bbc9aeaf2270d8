"""Recently blocked: the gateway's GetSampledRequests read (against moto with the fake's
samples, deploy/moto_fixes.py) and the selector that groups them by address."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from moto.wafv2.exceptions import WAFv2ClientError

from accesscontrol import selectors
from accesscontrol.exceptions import WafReadError
from accesscontrol.models import AllowedNetwork
from accesscontrol.waf import (
    SAMPLE_WINDOW,
    WEB_ACL_CACHE_SECONDS,
    WafWebAclGateway,
    forget_web_acl,
)
from deploy import moto_fixes
from deploy.moto_fixes import record_sampled_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_web_acl():
    forget_web_acl()
    yield
    forget_web_acl()


@pytest.fixture
def acl(waf, settings) -> dict:
    return waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)


def metric(settings) -> str:
    return f"{settings.GATEHOUSE_EDGE_NAME}edge".replace("-", "")


def blocked(
    acl, ip, uri="/", *, ago=10.0, weight=1, country="GB", metric_name=None, action="BLOCK"
):
    name = metric_name or acl["Name"].replace("-", "")
    sample = {
        "Request": {
            "ClientIP": ip,
            "Country": country,
            "URI": uri,
            "Method": "GET",
            "HTTPVersion": "HTTP/1.1",
            "Headers": [{"Name": "Host", "Value": "admin.example.com"}],
        },
        "Weight": weight,
        "Timestamp": time.time() - ago,
        "Action": action,
    }
    assert record_sampled_request(web_acl_arn=acl["ARN"], metric_name=name, sample=sample)


def test_the_default_actions_samples_are_grouped_by_address_newest_first(acl, settings):
    blocked(acl, "203.0.113.5", "/", ago=600, country="DE")
    blocked(acl, "203.0.113.5", "/api/me", ago=60, country="FR")
    blocked(acl, "203.0.113.5", "/", ago=30, weight=3, country="FR")
    blocked(acl, "198.51.100.7", "/login", ago=300)
    blocked(acl, "2001:0db8:0:0::1", "/", ago=5, country="--")
    # Neither is the default action's: a rule's sample, and one older than three hours.
    blocked(acl, "192.0.2.9", "/", metric_name=f"{metric(settings)}allowoffice", action="ALLOW")
    blocked(acl, "192.0.2.10", "/", ago=3 * 3600 + 60)

    report = selectors.recently_blocked()

    assert [a.address for a in report.addresses] == ["2001:db8::1", "203.0.113.5", "198.51.100.7"]
    v6, office, other = report.addresses
    assert (office.count, office.country, office.paths) == (5, "FR", ["/", "/api/me"])
    assert office.last_seen - office.first_seen == pytest.approx(
        timedelta(seconds=570), abs=timedelta(seconds=1)
    )
    assert (other.count, other.country, other.paths) == (1, "GB", ["/login"])
    assert v6.country == ""  # WAF's "unknown" is not a country
    assert report.sampled == 5 and report.population_size == 5
    assert report.sampling_enabled is True
    assert not any(a.allowed_now for a in report.addresses)


def test_the_window_asked_for_is_the_last_three_hours_and_max_items_500(acl):
    gateway = WafWebAclGateway.from_settings()
    for i in range(520):
        blocked(acl, f"198.51.100.{i % 200}", f"/p{i}", ago=i + 1)

    sample = gateway.sampled_requests()

    assert len(sample.requests) == 500  # MaxItems, from the 520 in the window
    assert sample.population_size == 520
    assert timedelta(hours=2, minutes=58) < sample.end - sample.start <= timedelta(hours=3)
    assert datetime.now(UTC) - sample.end < timedelta(seconds=5)
    assert gateway.calls == {"list_web_acls": 1, "get_web_acl": 1, "get_sampled_requests": 1}
    # The web ACL's ARN and metric name are reused (per process, for a minute).
    again = WafWebAclGateway.from_settings()
    again.sampled_requests(max_items=1)
    assert again.calls == {"get_sampled_requests": 1}
    with pytest.raises(ValueError, match="max_items"):
        gateway.sampled_requests(max_items=501)
    with pytest.raises(ValueError, match="window"):
        gateway.sampled_requests(window=SAMPLE_WINDOW + timedelta(minutes=2))


def test_a_shorter_window_leaves_older_samples_out(acl):
    blocked(acl, "198.51.100.1", ago=30 * 60)
    blocked(acl, "198.51.100.2", ago=5 * 60)
    sample = WafWebAclGateway.from_settings().sampled_requests(window=timedelta(minutes=10))
    assert [r.client_ip for r in sample.requests] == ["198.51.100.2"]


def test_paths_are_distinct_and_bounded(acl):
    for i in range(12):
        blocked(acl, "198.51.100.1", f"/p{i}", ago=100 - i)
    blocked(acl, "198.51.100.1", "/p11", ago=1)
    blocked(acl, "198.51.100.1", "/" + "x" * 500, ago=0.5)
    [entry] = selectors.recently_blocked().addresses
    assert entry.paths[0] == "/" + "x" * (selectors.BLOCKED_PATH_CHARS - 1)
    assert entry.paths[1:] == ["/p11", "/p10", "/p9", "/p8", "/p7", "/p6", "/p5", "/p4", "/p3"]
    assert entry.more_paths == 3  # /p2, /p1, /p0
    assert entry.count == 14


def test_an_address_the_allowlist_covers_now_is_marked(acl):
    blocked(acl, "198.51.100.77")
    blocked(acl, "203.0.113.1")
    AllowedNetwork.objects.create(cidr="198.51.100.0/24", ip_version=4, label="Branch")
    AllowedNetwork.objects.create(
        cidr="203.0.113.1/32",
        ip_version=4,
        label="Expired",
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    allowed = {a.address: a.allowed_now for a in selectors.recently_blocked().addresses}
    assert allowed == {"198.51.100.77": True, "203.0.113.1": False}


def test_sampling_off_is_reported(waf, settings):
    waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME, sampling=False)
    report = selectors.recently_blocked()
    assert report.addresses == [] and report.sampling_enabled is False


def test_a_missing_web_acl_is_a_read_error_naming_it(waf, settings):
    with pytest.raises(WafReadError, match=f"{settings.GATEHOUSE_EDGE_NAME}-edge.*provision_infra"):
        selectors.recently_blocked()


def test_waf_refusing_is_a_read_error_without_the_aws_text(acl, monkeypatch):
    def refuse(*args, **kwargs):
        raise WAFv2ClientError("AccessDeniedException", "User arn:aws:iam::123:user/x secret")

    monkeypatch.setattr(moto_fixes, "_sampled_requests", refuse)
    with pytest.raises(WafReadError) as caught:
        selectors.recently_blocked()
    assert "AccessDeniedException" in str(caught.value)
    assert "arn:aws:iam" not in str(caught.value)


def test_a_recreated_web_acl_is_found_again(waf, settings):
    first = waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    gateway = WafWebAclGateway.from_settings()
    assert gateway.web_acl().arn == first["ARN"]  # cached from here on
    lock = waf.client.get_web_acl(Name=first["Name"], Scope="CLOUDFRONT", Id=first["Id"])
    waf.client.delete_web_acl(
        Name=first["Name"], Scope="CLOUDFRONT", Id=first["Id"], LockToken=lock["LockToken"]
    )
    second = waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    blocked(second, "198.51.100.1")

    sample = WafWebAclGateway.from_settings().sampled_requests()

    assert sample.web_acl.arn == second["ARN"]
    assert [r.client_ip for r in sample.requests] == ["198.51.100.1"]


def test_the_cached_web_acl_is_looked_up_again_after_a_minute(acl, settings):
    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    edge = settings.GATEHOUSE_EDGE_NAME
    WafWebAclGateway(None, edge_name=edge, monotonic=clock).sampled_requests()
    now[0] += WEB_ACL_CACHE_SECONDS - 1
    cached = WafWebAclGateway(None, edge_name=edge, monotonic=clock)
    cached.sampled_requests()
    now[0] += 2
    expired = WafWebAclGateway(None, edge_name=edge, monotonic=clock)
    expired.sampled_requests()
    assert "list_web_acls" not in cached.calls
    assert expired.calls["list_web_acls"] == 1 and expired.calls["get_web_acl"] == 1
