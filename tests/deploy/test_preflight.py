"""Preflight (issue 11): everything readable is checked before the first write, in plan and
apply alike, and a failure names the config key and writes nothing. Also the config checks
that need no AWS (edge name, tags, bucket names, block page size)."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError

from deploy.config import load_config
from deploy.errors import ConfigError
from tests.conftest import aws_client
from tests.deploy.conftest import REGION, config_text, mutating, run

pytestmark = pytest.mark.django_db

FAKE_ACCOUNT = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-0aaa", "subnet-0bbb"],
    "app_cert": "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-5555",
    "origin_cert": "arn:aws:acm:eu-west-1:123456789012:certificate/66666666-2222-3333-4444-5555",
}


def config_error(tmp_path, text: str) -> str:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).replace(str(path), "edge.toml")


def command_error(tmp_path, text: str, *args: str) -> str:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(CommandError) as caught:
        run("--config", str(path), *args)
    return str(caught.value).replace(str(path), "edge.toml")


def imported_certificate(region: str, names: list[str], key=None) -> str:
    """An ACM certificate (ISSUED, as imported ones are) for `names`, with `key`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return aws_client("acm", region).import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM), PrivateKey=pem_key
    )["CertificateArn"]


# --- config checks (no AWS) -----------------------------------------------------------------


def test_edge_name_beginning_with_internal_is_refused(tmp_path):
    text = config_text(FAKE_ACCOUNT, name="internal-edge")
    assert config_error(tmp_path, text).startswith(
        "edge.toml: key 'name': 'internal-edge' begins with 'internal-'. Choose another name: "
        "ELB refuses load balancer names that begin with 'internal-'"
    )


@pytest.mark.parametrize(
    ("bucket", "problem"),
    [
        ("xn--frontend", "the prefix 'xn--' is reserved"),
        ("sthree-frontend", "the prefix 'sthree-' is reserved"),
        ("frontend-s3alias", "the suffix '-s3alias' is reserved"),
        ("frontend--ol-s3", "the suffix '--ol-s3' is reserved"),
        ("192.168.5.4", "it is formatted as an IP address"),
        ("front..end", "two adjacent periods"),
        ("Frontend", "only lower-case letters"),
    ],
)
def test_bucket_names_s3_refuses_are_refused(tmp_path, bucket, problem):
    text = config_text(FAKE_ACCOUNT).replace('bucket = "gh-test-frontend"', f'bucket = "{bucket}"')
    message = config_error(tmp_path, text)
    assert message.startswith(f"edge.toml: key 'frontend.bucket': {bucket!r} is not a valid S3")
    assert problem in message


@pytest.mark.parametrize(
    ("tags", "key", "problem"),
    [
        ('"aws:owner" = "me"', "tags.aws:owner", "the 'aws:' prefix is reserved for AWS"),
        ('"AWS:owner" = "me"', "tags.AWS:owner", "the 'aws:' prefix is reserved for AWS"),
        (f'"{"k" * 129}" = "v"', f"tags.{'k' * 129}", "tag keys have 1-128 characters"),
        (f'team = "{"v" * 257}"', "tags.team", "the value has 257 characters"),
        ('team = "ops (emea)"', "tags.team", "has characters AWS refuses"),
        ('"team#1" = "ops"', "tags.team#1", "has characters AWS refuses"),
    ],
)
def test_tags_aws_refuses_are_refused(tmp_path, tags, key, problem):
    message = config_error(tmp_path, config_text(FAKE_ACCOUNT, extra=f"\n[tags]\n{tags}\n"))
    assert message.startswith(f"edge.toml: key '{key}': ")
    assert problem in message


def test_more_tags_than_aws_allows_are_refused(tmp_path):
    tags = "".join(f't{i} = "v"\n' for i in range(50))
    message = config_error(tmp_path, config_text(FAKE_ACCOUNT, extra=f"\n[tags]\n{tags}"))
    assert message.startswith("edge.toml: key 'tags': 50 tags, but AWS allows 50 per resource")


def test_unicode_letters_and_spaces_in_tags_are_fine(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text(config_text(FAKE_ACCOUNT, extra='\n[tags]\n"Équipe" = "Opérations Paris"\n'))
    assert load_config(path).tags == {"Équipe": "Opérations Paris"}


def test_block_page_over_waf_body_limit_is_refused(tmp_path):
    text = config_text(FAKE_ACCOUNT) + f'block_message = "{"x" * 4000}"\n'
    message = config_error(tmp_path, text)
    assert message.startswith(
        "edge.toml: key 'allowlist.block_message': the block page would be 4143 bytes; WAF "
        "allows 4096 bytes for a custom response body. Shorten the message."
    )


def test_block_page_size_counts_bytes_not_characters(tmp_path):
    # 1,400 three-byte characters: 1,400 characters but over 4,096 bytes.
    text = config_text(FAKE_ACCOUNT) + f'block_message = "{"€" * 1400}"\n'
    assert "key 'allowlist.block_message'" in config_error(tmp_path, text)


# --- certificates ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [(), ("--apply",)], ids=["plan", "apply"])
def test_origin_certificate_must_cover_every_app_hostname(tmp_path, account, aws_calls, mode):
    # CloudFront forwards the viewer's Host (admin.example.com) to the ALB on /api/* and
    # checks the ALB's certificate against it: origin.hostname alone would give a 502.
    only_origin = imported_certificate(REGION, ["api-origin.example.com"])
    message = command_error(tmp_path, config_text(account, origin_cert=only_origin), *mode)
    assert message.startswith(
        f"edge.toml: key 'origin.certificate_arn': certificate {only_origin} covers "
        "api-origin.example.com but not admin.example.com (CloudFront forwards the viewer's "
        "Host to the ALB"
    )
    assert mutating(aws_calls) == {}


def test_origin_certificate_with_every_name_as_san_is_accepted(tmp_path, account):
    both = imported_certificate(REGION, ["api-origin.example.com", "admin.example.com"])
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, origin_cert=both))
    assert "Plan: 17 to add" in run("--config", str(path))


def test_certificate_pending_validation_is_refused(tmp_path, account, aws_calls, monkeypatch):
    from moto import settings as moto_settings

    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 60)
    pending = aws_client("acm", "us-east-1").request_certificate(
        DomainName="admin.example.com", ValidationMethod="DNS"
    )["CertificateArn"]
    message = command_error(tmp_path, config_text(account, app_cert=pending), "--apply")
    assert message == (
        f"edge.toml: key 'app.certificate_arn': certificate {pending} is PENDING_VALIDATION, "
        "not ISSUED. Finish its DNS validation in ACM (create the CNAME record it shows), "
        "wait for ISSUED, then run again."
    )
    assert mutating(aws_calls) == {}


def test_certificate_key_cloudfront_refuses_is_refused(tmp_path, account, aws_calls):
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = imported_certificate(
        "us-east-1", ["admin.example.com"], key=ec.generate_private_key(ec.SECP384R1())
    )
    message = command_error(tmp_path, config_text(account, app_cert=p384), "--apply")
    assert message.startswith(
        f"edge.toml: key 'app.certificate_arn': certificate {p384} uses key algorithm "
        "EC_secp384r1, which CloudFront does not accept"
    )
    assert mutating(aws_calls) == {}


def test_the_alb_accepts_a_p384_certificate(tmp_path, account):
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = imported_certificate(
        REGION,
        ["api-origin.example.com", "admin.example.com"],
        key=ec.generate_private_key(ec.SECP384R1()),
    )
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, origin_cert=p384))
    assert "Plan: 17 to add" in run("--config", str(path))


# --- the initial allowlist, by the app's own rules ------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("198.51.100.0/24", "a reserved documentation range"),
        ("10.0.0.0/8", "a private range"),
        ("2001:db8::/32", "a reserved documentation range"),
        ("81.0.0.0/8", "wider than /16"),
    ],
)
def test_initial_cidr_the_app_would_refuse_fails_the_plan(tmp_path, account, aws_calls, cidr, why):
    message = command_error(tmp_path, config_text(account, initial_cidrs=["81.2.69.0/24", cidr]))
    assert message.startswith(
        f"edge.toml: key 'allowlist.initial_cidrs[1]': {cidr} would be refused by the app: "
    )
    assert why in message
    assert message.endswith("Fix the entry and run again.")
    assert mutating(aws_calls) == {}


def test_private_initial_cidr_is_fine_in_local_mode(tmp_path, account, settings):
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=["127.0.0.1/32"]))
    assert "Plan: 17 to add" in run("--config", str(path))


def test_empty_initial_allowlist_with_an_empty_database_is_refused(tmp_path, account, aws_calls):
    message = command_error(tmp_path, config_text(account, initial_cidrs=[]))
    assert message.startswith(
        "edge.toml: key 'allowlist.initial_cidrs': the list is empty and the app's allowlist "
        "has no active networks, so the web ACL would block everyone"
    )
    assert mutating(aws_calls) == {}


def test_empty_initial_allowlist_is_fine_when_the_database_has_networks(tmp_path, account):
    from accesscontrol.models import AllowedNetwork

    AllowedNetwork.objects.create(cidr="81.2.70.0/24", ip_version=4, label="office")
    path = tmp_path / "edge.toml"
    path.write_text(config_text(account, initial_cidrs=[]))
    assert "Plan: 17 to add" in run("--config", str(path))
