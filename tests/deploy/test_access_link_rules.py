"""provision_infra with `[access_links] enabled = true`: the rate-based rule and the allow
rule for /api/access/ ahead of the allowlist rule (plan, apply, re-apply without writes,
disable), the block page's contact line, and the config's errors."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError

from deploy import waf_rules
from deploy.config import load_config
from deploy.errors import ConfigError
from tests.deploy.conftest import config_text, mutating, run
from tests.deploy.test_provision import web_acl

pytestmark = pytest.mark.django_db

ENABLED = "\n[access_links]\nenabled = true\n"
CONTACT = 'block_contact = "IT desk: it@example.com, ext. 400"\n'


def write(tmp_path, account, extra: str = "", contact: str = ""):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, extra=contact + extra))
    return path


def rules_by_priority() -> list[dict]:
    return sorted(web_acl()[0]["Rules"], key=lambda rule: rule["Priority"])


def test_enabling_plans_the_two_rules_as_drift_then_applies_them_ahead(
    tmp_path, account, aws_calls
):
    run("--config", str(write(tmp_path, account)), "--apply")
    assert [r["Name"] for r in rules_by_priority()] == ["allow-office-networks"]
    enabled = write(tmp_path, account, ENABLED)

    plan = run("--config", str(enabled))
    assert "update wafv2 web acl" in plan.lower() or "~ wafv2 web acl" in plan
    assert "access-links-rate" in plan and "access-links-open" in plan
    assert [r["Name"] for r in rules_by_priority()] == ["allow-office-networks"]  # plan only

    run("--config", str(enabled), "--apply")
    rules = rules_by_priority()
    assert [(r["Name"], r["Priority"]) for r in rules] == [
        ("access-links-rate", 1),
        ("access-links-open", 2),
        ("allow-office-networks", 3),
    ]
    rate = rules[0]["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == 50 and rate["EvaluationWindowSec"] == 300
    assert rate["AggregateKeyType"] == "IP"
    scope = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert scope["SearchString"] == b"/api/access/"
    assert scope["FieldToMatch"] == {"UriPath": {}}
    assert scope["TextTransformations"] == [{"Priority": 0, "Type": "LOWERCASE"}]
    assert scope["PositionalConstraint"] == "STARTS_WITH"
    assert rules[0]["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 429}}}
    assert rules[1]["Action"] == {"Allow": {}}
    assert rules[1]["Statement"] == rate["ScopeDownStatement"]

    aws_calls.clear()
    again = run("--config", str(enabled), "--apply")
    assert "No changes." in again
    assert mutating(aws_calls) == {}


def test_disabling_removes_the_rules(tmp_path, account):
    run("--config", str(write(tmp_path, account, ENABLED)), "--apply")
    assert len(rules_by_priority()) == 3
    disabled = write(tmp_path, account, "\n[access_links]\nenabled = false\n")
    plan = run("--config", str(disabled))
    assert "access-links-rate" in plan
    run("--config", str(disabled), "--apply")
    assert [(r["Name"], r["Priority"]) for r in rules_by_priority()] == [
        ("allow-office-networks", 1)
    ]


def test_block_page_carries_the_contact_line_and_the_access_link_hint(tmp_path, account):
    run("--config", str(write(tmp_path, account, ENABLED, CONTACT)), "--apply")
    page = web_acl()[0]["CustomResponseBodies"]["blocked"]["Content"]
    assert "IT desk: it@example.com, ext. 400" in page
    assert waf_rules.ACCESS_LINK_HINT in page
    run("--config", str(write(tmp_path, account, "", CONTACT)), "--apply")
    page = web_acl()[0]["CustomResponseBodies"]["blocked"]["Content"]
    assert "IT desk" in page and waf_rules.ACCESS_LINK_HINT not in page


def test_config_errors_name_the_key(tmp_path, account):
    bad = write(tmp_path, account, '\n[access_links]\nenabled = "yes"\n')
    with pytest.raises(CommandError, match=r"'access_links.enabled': must be a boolean"):
        run("--config", str(bad))
    typo = write(tmp_path, account, "\n[access_links]\nenable = true\n")
    with pytest.raises(CommandError, match=r"'access_links.enable': unknown key"):
        run("--config", str(typo))
    empty = write(tmp_path, account, "", 'block_contact = "  "\n')
    with pytest.raises(CommandError, match=r"'allowlist.block_contact': the contact line is empty"):
        run("--config", str(empty))
    long = write(tmp_path, account, ENABLED, f'block_contact = "{"x" * 4000}"\n')
    with pytest.raises(ConfigError, match=r"'allowlist.block_contact'.*4096 bytes"):
        load_config(long)


def test_rules_as_provisioned_json(tmp_path, account, capsys):
    """The figure for the report: the two rules as WAF holds them."""
    run("--config", str(write(tmp_path, account, ENABLED)), "--apply")
    rules = rules_by_priority()[:2]
    text = json.dumps(rules, default=lambda b: b.decode(), indent=1)
    print(text)
    assert "access-links-open" in text
