"""The examples and messages a newcomer meets first: they use addresses production
accepts, name the console's labels as the console spells them, and read cleanly."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError

from accesscontrol.models import AllowedNetwork
from accesscontrol.validation import check_network_policy, parse_network
from deploy.config import load_config
from tests.deploy.conftest import config_text, run

REPO = Path(__file__).resolve().parents[2]


def test_the_example_config_placeholder_must_be_replaced(settings):
    """The example's address is one the plan refuses, with a comment that says to replace
    it: a copied example cannot let a stranger's address in."""
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    example = REPO / "deploy" / "edge.example.toml"
    config = load_config(example)
    assert config.initial_cidrs
    for cidr in config.initial_cidrs:
        with pytest.raises(ValidationError):
            check_network_policy(parse_network(cidr), is_superuser=False)
    assert "REPLACE the placeholder below with\n# your own public address" in example.read_text()


@pytest.mark.django_db
def test_a_refused_initial_cidr_reads_cleanly_and_names_your_ip(tmp_path, account):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["198.51.100.7/32"]))
    with pytest.raises(CommandError) as refused:
        run("--config", str(path), "--apply")
    message = str(refused.value)
    assert "'Your IP'" in message and "My IP" not in message
    assert ".." not in message


@pytest.mark.django_db
def test_bootstrap_notes_name_the_config_file_not_the_servers_path(tmp_path, account):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["81.2.69.0/24"]))
    run("--config", str(path), "--apply")
    note = AllowedNetwork.objects.get(cidr="81.2.69.0/24").note
    assert note == "From the edge config (edge.toml)."
    assert str(tmp_path) not in note


def test_a_mistyped_region_is_caught_before_anything_is_called(tmp_path):
    from tests.deploy.test_config import FAKE_ACCOUNT, error_for

    account = {
        **FAKE_ACCOUNT,
        "origin_cert": FAKE_ACCOUNT["origin_cert"].replace("eu-west-1", "eu-westt-1"),
    }
    message = error_for(tmp_path, config_text(account, region="eu-westt-1"))
    assert "key 'region': 'eu-westt-1' is not an AWS region" in message


@pytest.mark.django_db
def test_the_plan_names_cache_and_origin_request_policies(tmp_path, account):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["81.2.69.0/24"]))
    plan = run("--config", str(path))
    assert "Managed-CachingDisabled (4135ea2d-6df8-44a3-9df3-4b5a84be39ad)" in plan
    assert "Managed-AllViewerAndCloudFrontHeaders-2022-06" in plan


def test_the_input_hint_uses_addresses_production_accepts(settings):
    import re

    from accesscontrol.validation import EXAMPLES

    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    examples = re.findall(r"[0-9a-f:.]+(?:/\d+)?", EXAMPLES)
    examples = [e for e in examples if any(c.isdigit() for c in e) and len(e) > 3]
    assert len(examples) == 3
    for example in examples:
        check_network_policy(parse_network(example), is_superuser=False)
