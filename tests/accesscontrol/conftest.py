"""Fixtures for the allowlist tests: the app's WAF gateway, users, requesters (the WAF
IP sets themselves: `waf` in tests/conftest.py).

No model imports at module level: pytest may load this before Django is set up."""

import pytest

from accesscontrol.waf import WafIpSetGateway

# Public (global unicast) networks: the default settings refuse documentation ranges.
OFFICE_V4 = "81.2.69.0/24"
HOME_V4 = "81.2.70.1/32"
OFFICE_V6 = "2a02:8010:1234::/48"


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
