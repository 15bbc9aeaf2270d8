"""The examples and messages a newcomer meets first: they use addresses production
accepts, name the console's labels as the console spells them, and read cleanly."""

from pathlib import Path

import pytest
from django.core.management import CommandError

from accesscontrol.models import AllowedNetwork
from accesscontrol.validation import check_network_policy, parse_network
from deploy.config import load_config
from tests.deploy.conftest import config_text, run

REPO = Path(__file__).resolve().parents[2]


def test_the_example_config_allows_an_address_production_accepts(settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = False
    config = load_config(REPO / "deploy" / "edge.example.toml")
    for cidr in config.initial_cidrs:
        check_network_policy(parse_network(cidr), is_superuser=False)  # raises if refused
    assert "REPLACE" in (REPO / "deploy" / "edge.example.toml").read_text()


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
