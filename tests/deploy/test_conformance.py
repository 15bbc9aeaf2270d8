"""The AWS conformance guard (deploy/conformance.py): every boto3 request is checked
against botocore's input shapes for what botocore itself skips, before moto sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from deploy import conformance
from deploy import waf as deploy_waf
from deploy.conformance import AwsConformanceError

ROOT = Path(__file__).resolve().parents[2]
OLD_DESCRIPTION = "Gatehouse x: office IPv4 networks (app-managed)"
SCOPE = "CLOUDFRONT"


@pytest.fixture
def waf():
    with mock_aws():
        yield boto3.client("wafv2", region_name="us-east-1")
    conformance.clear_violations()  # the refusals here are the point, not a failure


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(AwsConformanceError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_the_guard_is_on_for_the_whole_test_session():
    assert conformance.installed()
    assert os.environ[conformance.ENV_SWITCH] == "1"


def test_the_old_ip_set_description_is_refused_before_it_reaches_moto(waf):
    message = refused(
        waf.create_ip_set,
        Name="x-office-v4",
        Scope=SCOPE,
        IPAddressVersion="IPV4",
        Addresses=[],
        Description=OLD_DESCRIPTION,
    )

    assert (
        f"CreateIPSet.Description: '{OLD_DESCRIPTION}' does not match pattern "
        r"^[\w+=:#@/\-,\.][\w+=:#@/\-,\.\s]+[\w+=:#@/\-,\.]$"
    ) in message
    assert waf.list_ip_sets(Scope=SCOPE)["IPSets"] == []  # never sent
    assert any("CreateIPSet.Description" in v for v in conformance.violations())


def waf_context(waf):
    """Just enough of deploy.context.Context for deploy/waf.py's plan."""
    ctx = SimpleNamespace(
        name="gatehouse-local",
        state={},
        clients=SimpleNamespace(wafv2=waf),
        config=SimpleNamespace(block_message="Blocked.", block_contact="", access_links=False),
        tags=lambda: [{"Key": "gatehouse:edge", "Value": "gatehouse-local"}],
        out=lambda *lines: None,
        poll_interval=0,
    )
    ctx.read_once = lambda key, read: read(ctx)  # nothing remembered: every read is fresh
    return ctx


def test_the_description_provisioning_sends_now_is_accepted(waf):
    for change in deploy_waf.plan(waf_context(waf)):
        if change.kind == "wafv2 ip set":
            change.apply()

    descriptions = {s["Description"] for s in waf.list_ip_sets(Scope=SCOPE)["IPSets"]}
    assert descriptions == {
        deploy_waf.ip_set_description("gatehouse-local", 4),
        deploy_waf.ip_set_description("gatehouse-local", 6),
    }


def test_a_web_acl_made_without_a_description_is_updated_without_sending_an_empty_one(waf):
    ctx = waf_context(waf)
    for change in deploy_waf.plan(ctx):
        change.apply()  # the IP sets, then the web ACL
    acl = deploy_waf.find_web_acl(ctx)
    waf.delete_web_acl(Name=acl["Name"], Scope=SCOPE, Id=acl["Id"], LockToken=acl["LockToken"])
    waf.create_web_acl(  # by hand, in the console: no description, default Allow
        Name=acl["Name"],
        Scope=SCOPE,
        DefaultAction={"Allow": {}},
        VisibilityConfig=acl["VisibilityConfig"],
    )

    (update,) = deploy_waf.plan(ctx)
    update.apply()  # sent Description="" before: refused (minimum length 1)

    assert "Block" in deploy_waf.find_web_acl(ctx)["DefaultAction"]


def test_nested_paths_ranges_enums_and_unicode_tag_patterns(waf):
    message = refused(
        waf.create_web_acl,
        Name="edge",
        Scope=SCOPE,
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": "edge metric",  # a space: ^[\w#:\.\-/]+$ refuses it
        },
        CustomResponseBodies={
            "bad key!": {"ContentType": "TEXT_XML", "Content": "x"},
        },
        Tags=[{"Key": "gatehouse:edge", "Value": "caf\u00e9 \u2603"}],
    )

    assert "CreateWebACL.VisibilityConfig.MetricName: 'edge metric' does not match" in message
    assert "CreateWebACL.CustomResponseBodies key: 'bad key!' does not match" in message
    assert (
        "CreateWebACL.CustomResponseBodies[bad key!].ContentType: 'TEXT_XML' is not one of "
        "['APPLICATION_JSON', 'TEXT_HTML', 'TEXT_PLAIN']"
    ) in message
    # \p{L} letters pass (café), a symbol (the snowman, \p{So}) does not.
    assert "CreateWebACL.Tags[0].Value: 'café ☃' does not match pattern" in message
    assert "ListIPSets.Limit: 500 is more than the maximum 100" in refused(
        waf.list_ip_sets, Scope=SCOPE, Limit=500
    )
    too_long = "d" * 257
    assert f"CreateIPSet.Description: '{too_long[:77]}...' is 257 characters, more than 256" in (
        refused(
            waf.create_ip_set,
            Name="n",
            Scope=SCOPE,
            IPAddressVersion="IPV4",
            Addresses=[],
            Description=too_long,
        )
    )


def test_clients_without_botocore_validation_get_it_from_the_guard(waf):
    # The app's wafv2 client turns botocore's validation off for speed.
    unchecked = boto3.client(
        "wafv2", region_name="us-east-1", config=Config(parameter_validation=False)
    )

    message = refused(unchecked.list_ip_sets, Limit="10")

    assert 'Missing required parameter in input: "Scope"' in message
    assert "Invalid type for parameter Limit" in message


def test_patterns_are_translated_from_java_or_left_unchecked():
    letters = conformance._compile(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
    assert letters.search("Zürich 42") and not letters.search("a\x00b")
    # Java's '$' does not accept a trailing newline the way Python's does.
    assert conformance._compile(r"^[a-z]+$").search("abc\n") is None
    # '[\w-_]' is a literal '-' in Java and an error in Python: skipped, listed, no crash.
    assert conformance._compile(r"[\w-_]*") is None
    assert r"[\w-_]*" in conformance.uncompilable_patterns()


def run_probe(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    env.update(
        DJANGO_SECRET_KEY="k" * 60,
        DJANGO_ALLOWED_HOSTS="admin.example.com",
        GATEHOUSE_ORIGIN_SECRETS="s3cret",  # production refuses to start without one
        **env_extra,
    )
    probe = (
        "import sys, adminsite.wsgi; from botocore import handlers; "
        "print('deploy.conformance' in sys.modules, any(getattr(h, '__module__', '') == "
        "'deploy.conformance' for _, h, *_ in handlers.BUILTIN_HANDLERS))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_never_imports_the_guard_and_the_variable_turns_it_on():
    assert run_probe({}) == "False False"
    assert run_probe({"GATEHOUSE_AWS_CONFORMANCE": "1"}) == "True True"


def test_processes_report_what_they_checked(tmp_path, waf):
    report = tmp_path / "report.jsonl"
    conformance._report_path, saved = str(report), conformance._report_path
    try:
        waf.list_ip_sets(Scope=SCOPE)
        refused(waf.list_ip_sets, Scope=SCOPE, Limit=101)
        conformance._write_counts()
    finally:
        conformance._report_path = saved

    found = conformance.read_report(str(report))
    assert found.counts["wafv2.ListIPSets"] >= 2
    assert found.violations == ["ListIPSets.Limit: 101 is more than the maximum 100"]
