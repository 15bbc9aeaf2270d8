"""A command run with local settings (DJANGO_DEBUG=true) never reaches real AWS."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accesscontrol.localmode import refuse_real_aws_in_local_mode
from accesscontrol.models import AllowedNetwork

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_mode_without_stand_in(settings, monkeypatch):
    settings.DEBUG = True
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.mark.parametrize(
    "args",
    [
        ("sync_waf", "--dry-run"),
        ("allow_ip", "127.0.0.1", "--label", "recovery"),
        ("revoke_ip", "127.0.0.1/32"),
        ("deploy_frontend", "--config", "deploy/edge.local.toml"),
        ("provision_infra", "--config", "deploy/edge.local.toml"),
    ],
)
def test_local_mode_refuses_to_call_aws_outside_the_stand_in(local_mode_without_stand_in, args):
    with pytest.raises(CommandError, match="Refusing to call AWS: DJANGO_DEBUG=true"):
        call_command(*args)
    assert not AllowedNetwork.objects.exists()  # refused before any change


def test_local_mode_refuses_a_remote_endpoint(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://wafv2.us-east-1.amazonaws.com")
    with pytest.raises(CommandError, match="AWS_ENDPOINT_URL=https://wafv2"):
        call_command("sync_waf")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://localhost:4566"])
def test_local_mode_accepts_the_loopback_stand_in(settings, monkeypatch, endpoint):
    settings.DEBUG = True
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    refuse_real_aws_in_local_mode()  # no error


def test_production_settings_are_never_refused(settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    refuse_real_aws_in_local_mode()
