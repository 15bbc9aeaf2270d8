"""The edge config file: precise errors (file, key, problem, what to do) before any AWS call."""

from pathlib import Path

import pytest
from django.core.management import CommandError

from deploy.config import load_config
from deploy.errors import ConfigError
from tests.deploy.conftest import config_text, run

REPO = Path(__file__).resolve().parents[2]
FAKE_ACCOUNT = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-0aaa", "subnet-0bbb"],
    "app_cert": "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-5555",
    "origin_cert": "arn:aws:acm:eu-west-1:123456789012:certificate/66666666-2222-3333-4444-5555",
}


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def error_for(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).replace(str(path), "edge.toml")


def test_valid_file_loads_with_every_value(tmp_path):
    config = load_config(write(tmp_path, config_text(FAKE_ACCOUNT, initial_cidrs=["81.2.69.7"])))
    assert config.name == "gh-test"
    assert config.region == "eu-west-1"
    assert config.app_hostnames == ("admin.example.com",)
    assert config.origin_hostname == "api-origin.example.com"
    assert config.subnet_ids == ("subnet-0aaa", "subnet-0bbb")
    assert config.target_ids == ("10.20.1.10", "10.20.2.10")
    assert config.target_type == "ip"
    assert config.target_port == 8000
    assert config.initial_cidrs == ("81.2.69.7/32",)  # a bare address is a /32


@pytest.mark.parametrize("name", ["edge.example.toml", "edge.local.toml"])
def test_shipped_config_files_are_valid(name):
    config = load_config(REPO / "deploy" / name)
    assert config.app_certificate_arn.startswith("arn:aws:acm:us-east-1:")


def test_cloudfront_certificate_in_wrong_region_is_refused(tmp_path):
    account = {**FAKE_ACCOUNT, "app_cert": FAKE_ACCOUNT["origin_cert"]}
    assert error_for(tmp_path, config_text(account)) == (
        "edge.toml: key 'app.certificate_arn': the certificate is in region eu-west-1, but "
        "CloudFront only accepts ACM certificates from us-east-1. Request or import "
        "the certificate in ACM in us-east-1 and use that ARN."
    )


def test_alb_certificate_outside_the_edge_region_is_refused(tmp_path):
    account = {**FAKE_ACCOUNT, "origin_cert": FAKE_ACCOUNT["app_cert"]}
    assert error_for(tmp_path, config_text(account)) == (
        "edge.toml: key 'origin.certificate_arn': the certificate is in region us-east-1, but "
        "the ALB needs one from its own region (key 'region'), eu-west-1. "
        "Request or import the certificate in ACM in eu-west-1 and use that ARN."
    )


def test_one_subnet_is_refused(tmp_path):
    account = {**FAKE_ACCOUNT, "subnet_ids": ["subnet-0aaa"]}
    assert error_for(tmp_path, config_text(account)) == (
        "edge.toml: key 'network.subnet_ids': an ALB needs at least 2 subnets in different "
        "availability zones, got 1. Add another public subnet of the VPC in a second "
        "availability zone."
    )


def test_missing_key_is_named(tmp_path):
    text = config_text(FAKE_ACCOUNT).replace("port = 8000\n", "")
    assert error_for(tmp_path, text) == (
        "edge.toml: key 'targets.port': missing required key. Add it (see "
        "deploy/edge.example.toml for its meaning)."
    )


def test_missing_section_is_named(tmp_path):
    text = config_text(FAKE_ACCOUNT).replace('[frontend]\nbucket = "gh-test-frontend"\n', "")
    assert error_for(tmp_path, text) == (
        "edge.toml: key 'frontend': missing section. Add a [frontend] table (see "
        "deploy/edge.example.toml)."
    )


def test_unknown_key_is_named_with_the_allowed_ones(tmp_path):
    text = config_text(FAKE_ACCOUNT).replace("port = 8000", "port = 8000\nprot = 8001")
    assert error_for(tmp_path, text) == (
        "edge.toml: key 'targets.prot': unknown key. Remove it or fix its spelling; keys "
        "allowed here: ids, port."
    )


def test_wrong_type_is_named(tmp_path):
    text = config_text(FAKE_ACCOUNT).replace("port = 8000", 'port = "8000"')
    assert error_for(tmp_path, text) == (
        "edge.toml: key 'targets.port': must be an integer, got a string '8000'. Fix its value."
    )


def test_cidr_with_host_bits_names_the_network_to_use(tmp_path):
    text = config_text(FAKE_ACCOUNT, initial_cidrs=["81.2.69.7/24"])
    assert error_for(tmp_path, text) == (
        "edge.toml: key 'allowlist.initial_cidrs[0]': '81.2.69.7/24' has host bits set. "
        "Use the network address: 81.2.69.0/24."
    )


def test_origin_hostname_must_differ_from_app_hostnames(tmp_path):
    text = config_text(FAKE_ACCOUNT).replace("api-origin.example.com", "admin.example.com")
    assert "key 'origin.hostname': the origin host name must differ" in error_for(tmp_path, text)


def test_invalid_toml_is_reported(tmp_path):
    assert error_for(tmp_path, "name = \n").startswith("edge.toml: not valid TOML:")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the edge config file"):
        load_config(tmp_path / "nope.toml")


def test_bad_config_touches_nothing(tmp_path, aws_calls):
    account = {**FAKE_ACCOUNT, "subnet_ids": ["subnet-0aaa"]}
    path = write(tmp_path, config_text(account))
    with pytest.raises(CommandError, match="network.subnet_ids"):
        run("--config", str(path), "--apply")
    assert sum(aws_calls.values()) == 0
