"""The app's runtime IAM policy (deploy/iam.py `app_policy_document`): it covers every
WAF call the app makes (a sync and the Blocked screen's read), scoped to the edge's own
ARNs where the API takes a resource, and README shows exactly it."""

from __future__ import annotations

import fnmatch
import json
import re
import time
from pathlib import Path

import boto3
import pytest

from accesscontrol import selectors, services
from accesscontrol.models import AllowedNetwork
from accesscontrol.waf import forget_web_acl
from deploy.iam import app_policy_document
from deploy.moto_fixes import record_sampled_request

README = Path(__file__).resolve().parents[2] / "README.md"
ACCOUNT = "123456789012"


def test_readme_shows_the_app_policy():
    text = README.read_text()
    block = re.search(r"\*The app\*.*?```json\n(.*?)```", text, re.S)
    assert block is not None
    shown = json.loads(block.group(1))
    assert shown == app_policy_document(edge_name="<name>", account_id="<account>")


@pytest.mark.django_db
def test_the_app_policy_covers_every_waf_call_the_app_makes(waf, settings, monkeypatch):
    forget_web_acl()
    acl = waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    record_sampled_request(
        web_acl_arn=acl["ARN"],
        metric_name=acl["Name"].replace("-", ""),
        sample={
            "Request": {"ClientIP": "62.30.1.1"},
            "Weight": 1,
            "Timestamp": time.time(),
            "Action": "BLOCK",
        },
    )
    used: list[tuple[str, dict]] = []

    def hook(model, params, **kwargs):
        used.append((f"wafv2:{model.name}", params))

    client = boto3.client("wafv2", region_name="us-east-1")
    client.meta.events.register("provide-client-params.wafv2", hook)
    monkeypatch.setattr("accesscontrol.waf.wafv2_client", lambda: client)
    AllowedNetwork.objects.create(cidr="81.2.69.0/24", ip_version=4, label="Office")

    services.sync_waf_ip_sets()
    assert selectors.recently_blocked().addresses

    policy = app_policy_document(edge_name=settings.GATEHOUSE_EDGE_NAME, account_id=ACCOUNT)
    by_action: dict[str, object] = {}
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            by_action[action] = statement["Resource"]
    names = {action for action, _ in used}
    assert names >= {"wafv2:GetSampledRequests", "wafv2:GetWebACL", "wafv2:ListWebACLs"}
    assert names - set(by_action) == set()
    # Where the API takes a resource, only the edge's own: never "*".
    for action in (
        "wafv2:GetIPSet",
        "wafv2:UpdateIPSet",
        "wafv2:GetWebACL",
        "wafv2:GetSampledRequests",
    ):
        assert by_action[action] != "*"
    assert by_action["wafv2:GetSampledRequests"] == (
        f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/{settings.GATEHOUSE_EDGE_NAME}-edge/*"
    )
    # moto's account is ACCOUNT: the ARN the app asked about is the one the policy names.
    [arn] = {p["WebAclArn"] for a, p in used if a == "wafv2:GetSampledRequests"}
    assert fnmatch.fnmatchcase(arn, by_action["wafv2:GetSampledRequests"])
    forget_web_acl()
