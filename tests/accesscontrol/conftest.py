"""Fixtures for the allowlist tests: moto-backed WAF IP sets, users, requesters.

No model imports at module level: pytest may load this before Django is set up."""

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from accesscontrol.edge import WAF_SCOPE, ip_set_names
from accesscontrol.waf import WafIpSetGateway

# Public (global unicast) networks: the default settings refuse documentation ranges.
OFFICE_V4 = "81.2.69.0/24"
HOME_V4 = "81.2.70.1/32"
OFFICE_V6 = "2a02:8010:1234::/48"


@dataclass
class FakeWaf:
    """The IP sets as an outsider (the AWS console) sees them: plain boto3 calls."""

    client: Any
    ids: dict[int, str]
    names: dict[int, str]

    def addresses(self, version: int) -> set[str]:
        response = self.client.get_ip_set(
            Name=self.names[version], Scope=WAF_SCOPE, Id=self.ids[version]
        )
        return set(response["IPSet"]["Addresses"])

    def edit(self, version: int, addresses: set[str]) -> None:
        """An out-of-band edit, as in the AWS console."""
        response = self.client.get_ip_set(
            Name=self.names[version], Scope=WAF_SCOPE, Id=self.ids[version]
        )
        self.client.update_ip_set(
            Name=self.names[version],
            Scope=WAF_SCOPE,
            Id=self.ids[version],
            Addresses=sorted(addresses),
            LockToken=response["LockToken"],
        )


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def waf(aws, settings):
    """Both office IP sets, empty, as provision_infra creates them."""
    client = boto3.client("wafv2", region_name="us-east-1")
    names = ip_set_names(settings.GATEHOUSE_EDGE_NAME)
    ids = {}
    for version, name in names.items():
        created = client.create_ip_set(
            Name=name,
            Scope=WAF_SCOPE,
            IPAddressVersion=f"IPV{version}",
            Addresses=[],
            Description="Gatehouse office allowlist",
        )
        ids[version] = created["Summary"]["Id"]
    return FakeWaf(client=client, ids=ids, names=names)


@pytest.fixture
def gateway(waf):
    """The app's own gateway (real boto3 client against moto), counting its calls."""
    return WafIpSetGateway.from_settings(sleep=lambda seconds: None)


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_user(username="erin", password="x")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="x")


@pytest.fixture
def as_editor(editor):
    from accesscontrol.services import Requester

    return Requester(user=editor, ip="81.2.69.10", user_agent="pytest")


@pytest.fixture
def as_superuser(superuser):
    from accesscontrol.services import Requester

    return Requester(user=superuser, ip=None, user_agent="pytest")
