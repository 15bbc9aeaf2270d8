"""The local stack's AWS stand-in: moto's server in-process, and what a user's account
would already have (a VPC, two subnets, ACM certificates) created in it.

Development only: production never imports this module (moto is a dev dependency).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from deploy.config import load_config

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105 - the stand-in takes any credentials
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Never the user's real profile or config, whatever their ~/.aws says.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def point_boto3_at(endpoint: str) -> None:
    """Every boto3 client made from now on in this process talks to the stand-in."""
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint


def start_moto_server(port: int) -> ThreadedMotoServer:
    """moto's server on loopback, with the fixes that keep it faithful to real AWS."""
    from moto.server import ThreadedMotoServer

    from deploy.moto_fixes import apply_moto_fixes, apply_waf_fixes

    apply_moto_fixes()
    apply_waf_fixes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def record_sampled_request(web_acl_arn: str, metric_name: str, sample: dict[str, Any]) -> None:
    """The local edge's sample recorder: into the moto server this process runs."""
    from deploy.moto_fixes import record_sampled_request as record

    record(web_acl_arn=web_acl_arn, metric_name=metric_name, sample=sample)


def self_signed_certificate(hostname: str, *more: str) -> tuple[bytes, bytes]:
    """A throwaway certificate + key for the stand-in's ACM (cryptography ships with moto),
    for `hostname` and `more` names as SANs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in (hostname, *more)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _import_certificate(hostname: str, region: str, *more: str) -> str:
    cert, key = self_signed_certificate(hostname, *more)
    acm = boto3.client("acm", region_name=region)
    return acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]


def prepare_account(template: Path, destination: Path) -> Path:
    """Create the VPC, subnets and certificates the edge config expects, and write a copy
    of the config with the template's placeholder ids replaced by the stand-in's."""
    placeholders = load_config(template)  # the project's own loader reads the template
    region = placeholders.region
    ec2 = boto3.client("ec2", region_name=region)
    vpc_id = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=region + zone)["Subnet"][
            "SubnetId"
        ]
        for cidr, zone in (("10.80.1.0/24", "a"), ("10.80.2.0/24", "b"))
    ]
    replacements = {
        placeholders.vpc_id: vpc_id,
        # CloudFront takes certificates from us-east-1 only; the ALB's lives in the region.
        placeholders.app_certificate_arn: _import_certificate(
            placeholders.app_hostnames[0], "us-east-1"
        ),
        # The ALB's certificate covers the app's names too: CloudFront forwards the
        # viewer's Host on /api/* and checks the ALB's certificate against it.
        placeholders.origin_certificate_arn: _import_certificate(
            placeholders.origin_hostname, region, *placeholders.app_hostnames
        ),
        **dict(zip(placeholders.subnet_ids, subnets, strict=True)),
    }
    text = template.read_text()
    for old, new in replacements.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text)
    return destination
