"""Issue 11 against moto: what real AWS refuses or does that moto would let pass. WAF
descriptions by the botocore model, seeding by state, retries while a new resource is
not usable yet (with moto_fixes' after-create window on) and while a deletion
propagates, DescribeRules paging, rule priorities."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import boto3
import botocore
import pytest
from django.core.management import CommandError

import deploy.aws
import deploy.engine
from deploy import moto_fixes
from tests.conftest import aws_client
from tests.deploy.conftest import EDGE, REGION, run

pytestmark = pytest.mark.django_db

WAF = "CLOUDFRONT"


def wafv2():
    return aws_client("wafv2", "us-east-1")


def elbv2():
    return aws_client("elbv2", REGION)


def waf_model_pattern(shape: str) -> re.Pattern:
    root = Path(botocore.__file__).parent / "data" / "wafv2"
    [model] = root.glob("*/service-2.json*")
    opener = gzip.open if model.suffix == ".gz" else open
    with opener(model, "rt") as handle:
        return re.compile(json.load(handle)["shapes"][shape]["pattern"])


@pytest.fixture
def sent(monkeypatch):
    """The parameters of every AWS call made through boto3 sessions from now on."""
    calls: list[tuple[str, dict]] = []
    real_session = boto3.Session

    def session(*args, **kwargs):
        made = real_session(*args, **kwargs)

        def capture(model, params, **kw):
            calls.append((model.name, dict(params)))

        made.events.register("before-parameter-build", capture)
        return made

    monkeypatch.setattr(boto3, "Session", session)
    return calls


def ip_set_addresses(version: int) -> set[str]:
    name = f"{EDGE}-office-v{version}"
    summary = next(s for s in wafv2().list_ip_sets(Scope=WAF)["IPSets"] if s["Name"] == name)
    return set(wafv2().get_ip_set(Name=name, Scope=WAF, Id=summary["Id"])["IPSet"]["Addresses"])


def web_acl():
    summary = next(a for a in wafv2().list_web_acls(Scope=WAF)["WebACLs"])
    response = wafv2().get_web_acl(Name=summary["Name"], Scope=WAF, Id=summary["Id"])
    return response["WebACL"], response["LockToken"]


# --- item 1: descriptions WAF accepts -------------------------------------------------------


def test_waf_descriptions_match_the_entity_description_pattern(edge_config, sent):
    run("--config", str(edge_config), "--apply")
    pattern = waf_model_pattern("EntityDescription")
    descriptions = {
        op: params["Description"]
        for op, params in sent
        if op in ("CreateIPSet", "CreateWebACL") and "Description" in params
    }
    assert set(descriptions) == {"CreateIPSet", "CreateWebACL"}
    for op, description in descriptions.items():
        assert pattern.match(description), f"{op} sends {description!r}, which WAF refuses"
        assert 1 <= len(description) <= 256


def test_adopted_web_acl_without_description_is_updated_without_an_empty_one(edge_config, sent):
    run("--config", str(edge_config), "--apply")
    acl, token = web_acl()
    # Someone recreated it by hand, without a description, and allowing everyone.
    wafv2().delete_web_acl(Name=acl["Name"], Scope=WAF, Id=acl["Id"], LockToken=token)
    wafv2().create_web_acl(
        Name=acl["Name"],
        Scope=WAF,
        DefaultAction={"Allow": {}},
        Rules=acl["Rules"],
        VisibilityConfig=acl["VisibilityConfig"],
    )
    sent.clear()
    # Untagged now: only --adopt takes it over (deploy/ownership.py).
    run("--config", str(edge_config), "--apply", "--adopt")
    [update] = [params for op, params in sent if op == "UpdateWebACL"]
    assert "Description" not in update  # "" is below WAF's minimum length of 1
    assert "Block" in web_acl()[0]["DefaultAction"]


def test_a_web_acl_deleted_between_plan_and_apply_is_reported_not_a_crash(edge_config):
    from deploy import waf
    from deploy.aws import AwsClients
    from deploy.config import load_config
    from deploy.context import Context
    from deploy.errors import DeployError

    run("--config", str(edge_config), "--apply")
    acl, token = web_acl()
    token = wafv2().update_web_acl(
        Name=acl["Name"],
        Scope=WAF,
        Id=acl["Id"],
        LockToken=token,
        DefaultAction={"Allow": {}},
        Rules=acl["Rules"],
        VisibilityConfig=acl["VisibilityConfig"],
    )["NextLockToken"]
    ctx = Context(config=load_config(edge_config), clients=AwsClients(region=REGION))
    [update] = [c for c in waf.plan(ctx) if c.kind == "wafv2 web acl"]
    assert update.action == "update"
    wafv2().delete_web_acl(Name=acl["Name"], Scope=WAF, Id=acl["Id"], LockToken=token)

    with pytest.raises(DeployError, match="deleted after the plan was made"):
        update.apply()


# --- item 3: seeding by state ----------------------------------------------------------------


def test_sets_left_empty_by_a_failed_run_are_seeded_by_the_next(edge_config, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    def denied(self, *args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not authorized to perform CreateWebACL")

    with monkeypatch.context() as patch:
        patch.setattr(WAFV2Backend, "create_web_acl", denied)
        with pytest.raises(CommandError, match="Creating WAF web ACL gh-test-edge failed"):
            run("--config", str(edge_config), "--apply")
    assert ip_set_addresses(4) == set()  # the sets exist, empty

    output = run("--config", str(edge_config), "--apply")
    assert "allowlist: added 81.2.69.0/24" in output
    assert ip_set_addresses(4) == {"81.2.69.0/24"}


def test_sets_with_addresses_are_never_reseeded(edge_config, sent):
    run("--config", str(edge_config), "--apply")
    from accesscontrol.models import AllowedNetwork

    AllowedNetwork.objects.all().delete()  # the app's allowlist lost, WAF still has it
    sent.clear()
    output = run("--config", str(edge_config), "--apply")
    assert "allowlist:" not in output
    assert not [op for op, _ in sent if op == "UpdateIPSet"]


def test_seeding_failure_says_what_exists_and_what_a_rerun_does(edge_config, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    def denied(self, *args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not authorized to perform UpdateIPSet")

    with monkeypatch.context() as patch:
        patch.setattr(WAFV2Backend, "update_ip_set", denied)
        with pytest.raises(CommandError) as caught:
            run("--config", str(edge_config), "--apply")
    message = str(caught.value)
    assert message.startswith("Seeding the WAF IP sets failed: gh-test-office-v4: failed")
    assert (
        "The WAF IP sets and the web ACL exist (it blocks everyone not in the sets, which are "
        "empty); nothing else was created or changed by this run after them."
    ) in message
    assert "run --apply again (it syncs the empty IP sets from the database" in message
    assert aws_client("s3", REGION).list_buckets()["Buckets"] == []

    run("--config", str(edge_config), "--apply")
    assert ip_set_addresses(4) == {"81.2.69.0/24"}


# --- item 4: not usable yet, retried with progress ------------------------------------------


@pytest.fixture
def unavailable_after_create():
    moto_fixes.set_unavailable_window(2.0)
    yield
    moto_fixes.set_unavailable_window(0)


def test_unavailable_window_canary(aws, unavailable_after_create):
    """moto itself has no such window: this fails if moto_fixes' fake stops applying."""
    ip_set = wafv2().create_ip_set(Name="fresh", Scope=WAF, IPAddressVersion="IPV4", Addresses=[])[
        "Summary"
    ]
    visibility = {
        "SampledRequestsEnabled": False,
        "CloudWatchMetricsEnabled": False,
        "MetricName": "m",
    }
    rule = {
        "Name": "r",
        "Priority": 1,
        "Action": {"Allow": {}},
        "Statement": {"IPSetReferenceStatement": {"ARN": ip_set["ARN"]}},
        "VisibilityConfig": visibility,
    }
    with pytest.raises(wafv2().exceptions.WAFUnavailableEntityException):
        wafv2().create_web_acl(
            Name="acl",
            Scope=WAF,
            DefaultAction={"Block": {}},
            Rules=[rule],
            VisibilityConfig=visibility,
        )
    moto_fixes.set_unavailable_window(0)
    wafv2().create_web_acl(
        Name="acl",
        Scope=WAF,
        DefaultAction={"Block": {}},
        Rules=[rule],
        VisibilityConfig=visibility,
    )


def test_moto_alone_has_no_unavailable_window(unavailable_after_create):
    """Canary: moto without deploy/moto_fixes.py uses a new IP set at once. If this fails,
    moto has gained the window itself and the fake should go."""
    from moto import mock_aws

    with mock_aws():
        ip_set = wafv2().create_ip_set(
            Name="fresh", Scope=WAF, IPAddressVersion="IPV4", Addresses=[]
        )["Summary"]
        visibility = {
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": "m",
        }
        wafv2().create_web_acl(
            Name="acl",
            Scope=WAF,
            DefaultAction={"Block": {}},
            Rules=[
                {
                    "Name": "r",
                    "Priority": 1,
                    "Action": {"Allow": {}},
                    "Statement": {"IPSetReferenceStatement": {"ARN": ip_set["ARN"]}},
                    "VisibilityConfig": visibility,
                }
            ],
            VisibilityConfig=visibility,
        )


class SimulatedClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def simulated_clock(monkeypatch):
    """One clock for moto_fixes' after-create window and deploy's retries: a retry waits
    the window out by sleeping on it, without real seconds and however slow the machine
    (in real time a busy machine could spend the window before the first attempt)."""
    clock = SimulatedClock()
    for module in (moto_fixes, deploy.aws, deploy.engine):
        monkeypatch.setattr(module, "time", clock)
    return clock


def test_apply_waits_for_new_ip_sets_and_web_acl_to_become_usable(
    edge_config, unavailable_after_create, simulated_clock
):
    output = run("--config", str(edge_config), "--apply")
    assert (
        "Creating WAF web ACL gh-test-edge: WAFUnavailableEntityException, AWS has not caught "
        "up yet; retrying in"
    ) in output
    assert (
        "Creating the CloudFront distribution: InvalidWebACLId, AWS has not caught up yet; "
        "retrying in"
    ) in output
    assert "Apply complete" in output
    assert web_acl()[0]["ARN"]
    # The retries backed off until the window (2 s) had passed, twice: web ACL, then CloudFront.
    assert sum(simulated_clock.slept) >= 2 * 2.0


def test_retrying_gives_up_after_the_timeout_with_the_aws_error(edge_config, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    from deploy import aws

    def never(self, *args, **kwargs):
        raise JsonRESTError("WAFUnavailableEntityException", "still not there")

    monkeypatch.setattr(WAFV2Backend, "create_web_acl", never)
    monkeypatch.setattr(aws, "RETRY_FOR_SECONDS", 0.3)
    with pytest.raises(CommandError) as caught:
        run("--config", str(edge_config), "--apply")
    assert str(caught.value).startswith(
        "Creating WAF web ACL gh-test-edge failed: WAFUnavailableEntityException: still not there."
    )


# --- destroy retries "in use" while a deletion propagates -------------------------------------


def test_destroy_retries_while_the_web_acl_is_still_associated(edge_config, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend

    run("--config", str(edge_config), "--apply")
    real_delete = WAFV2Backend.delete_web_acl
    refusals = []

    def still_associated(self, *args, **kwargs):
        if len(refusals) < 2:
            refusals.append(1)
            raise JsonRESTError(
                "WAFAssociatedItemException", "AWS WAF couldn't perform the operation"
            )
        return real_delete(self, *args, **kwargs)

    monkeypatch.setattr(WAFV2Backend, "delete_web_acl", still_associated)
    output = run("--config", str(edge_config), "--destroy")
    assert output.count("Deleting WAF web ACL gh-test-edge: WAFAssociatedItemException") == 2
    assert wafv2().list_web_acls(Scope=WAF)["WebACLs"] == []
    assert wafv2().list_ip_sets(Scope=WAF)["IPSets"] == []


# --- ALB rules: every page, and no priority conflict -----------------------------------------


def https_listener() -> str:
    lb = elbv2().describe_load_balancers(Names=[f"{EDGE}-alb"])["LoadBalancers"][0]
    listeners = elbv2().describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    return next(x["ListenerArn"] for x in listeners if x["Port"] == 443)


def all_rules(listener_arn: str) -> list[dict]:
    rules, kwargs = [], {"ListenerArn": listener_arn}
    while True:
        page = elbv2().describe_rules(**kwargs)
        rules += page["Rules"]
        if not page.get("NextMarker"):
            return [r for r in rules if not r["IsDefault"]]
        kwargs["Marker"] = page["NextMarker"]


def add_unmanaged_rule(listener_arn: str, priority: int, tg_arn: str) -> None:
    elbv2().create_rule(
        ListenerArn=listener_arn,
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/{priority}"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )


def test_unmanaged_rules_beyond_the_first_page_are_removed(edge_config):
    run("--config", str(edge_config), "--apply")
    listener = https_listener()
    [ours] = all_rules(listener)
    tg = ours["Actions"][0]["TargetGroupArn"]
    for priority in range(20, 80):  # 60 more rules: DescribeRules pages at 50 here
        add_unmanaged_rule(listener, priority, tg)
    plan = run("--config", str(edge_config))
    assert "Plan: 0 to add, 0 to change, 60 to destroy." in plan
    assert "- alb listener rule gh-test-alb:443 priority 79" in plan
    run("--config", str(edge_config), "--apply")
    assert [r["RuleArn"] for r in all_rules(listener)] == [ours["RuleArn"]]


def test_unmanaged_rule_at_our_priority_is_removed_before_ours_is_created(edge_config):
    run("--config", str(edge_config), "--apply")
    listener = https_listener()
    [ours] = all_rules(listener)
    tg = ours["Actions"][0]["TargetGroupArn"]
    elbv2().delete_rule(RuleArn=ours["RuleArn"])
    add_unmanaged_rule(listener, 10, tg)  # where ours goes
    run("--config", str(edge_config), "--apply")
    [rule] = all_rules(listener)
    assert rule["Priority"] == "10"
    assert rule["Conditions"][0]["Field"] == "http-header"


def test_seeding_stopped_half_way_says_the_sets_are_no_longer_empty(tmp_path, account, monkeypatch):
    from django.core.exceptions import ValidationError

    import accesscontrol.services
    from tests.deploy.conftest import config_text

    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["81.2.69.0/24", "81.2.70.0/24"]))
    real_policy = accesscontrol.services.check_network_policy

    def refuse_second(network, *, is_superuser):
        # Stands for a rule that changed between the preflight and the seeding.
        if str(network) == "81.2.70.0/24":
            raise ValidationError({"cidr": ["refused for this test."]})
        return real_policy(network, is_superuser=is_superuser)

    with monkeypatch.context() as patch:
        patch.setattr(accesscontrol.services, "check_network_policy", refuse_second)
        with pytest.raises(CommandError) as caught:
            run("--config", str(path), "--apply")
    message = str(caught.value)
    assert "81.2.70.0/24 was refused: refused for this test." in message
    assert "(it blocks everyone not in the sets, which hold only 81.2.69.0/24)" in message
    assert "81.2.69.0/24 went in before it and the IP sets are no longer empty" in message
