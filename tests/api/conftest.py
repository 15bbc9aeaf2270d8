"""Fixtures for the API tests: users in each role, clients as the ALB delivers requests
(HTTPS via X-Forwarded-Proto, the viewer in X-Forwarded-For), and WAF IP sets in moto.

Most tests run without an origin secret (the app's direct mode, as in development): then
no proxy header is believed and the viewer is the connection's address, so the clients
connect from the viewer's address. `through_edge` turns the secret on, as production runs:
the viewer then comes from CloudFront's headers and must be on the allowlist."""

import boto3
import pytest
from django.test import Client
from moto import mock_aws

# CloudFront appends the viewer, the ALB appends the edge: the viewer is second from right.
VIEWER_IP = "81.2.69.142"
EDGE_IP = "10.0.0.5"
PASSWORD = "correct horse battery staple"
ROLES = ("anonymous", "nobody", "viewer", "editor", "superuser")


ORIGIN_SECRET = "tests-origin-secret"  # noqa: S105


def alb_headers(viewer: str = VIEWER_IP) -> dict:
    return {
        # Without the origin secret Django believes no header: the viewer is the peer.
        "REMOTE_ADDR": viewer,
        # Real requests carry Host; without it Django adds ":80" to an HTTPS request's host.
        "HTTP_HOST": "testserver",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_FOR": f"{viewer}, {EDGE_IP}",
        "HTTP_USER_AGENT": "pytest-browser/1.0",
    }


def make_user(role: str):
    # Imported here: this conftest loads before Django's app registry is ready.
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    if role == "superuser":
        return User.objects.create_superuser(role, f"{role}@example.com", PASSWORD)
    user = User.objects.create_user(role, f"{role}@example.com", PASSWORD)
    if role in ("viewer", "editor"):
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def make_client(db):
    """make_client(role, csrf=False, viewer=...) -> a client signed in as that role."""

    def build(role: str = "anonymous", *, csrf: bool = False, viewer: str = VIEWER_IP):
        client = Client(enforce_csrf_checks=csrf, **alb_headers(viewer))
        if role != "anonymous":
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(username=role).first() or make_user(role)
            client.force_login(user)
        return client

    return build


@pytest.fixture
def editor_client(make_client):
    return make_client("editor")


@pytest.fixture
def waf(db, settings):
    """moto with the edge's two office IP sets; yields the wafv2 client."""
    with mock_aws():
        client = boto3.client("wafv2", region_name="us-east-1")
        for version, waf_version in ((4, "IPV4"), (6, "IPV6")):
            client.create_ip_set(
                Name=f"{settings.GATEHOUSE_EDGE_NAME}-office-v{version}",
                Scope="CLOUDFRONT",
                IPAddressVersion=waf_version,
                Addresses=[],
            )
        yield client


def waf_addresses(client, version: int) -> set[str]:
    from django.conf import settings

    name = f"{settings.GATEHOUSE_EDGE_NAME}-office-v{version}"
    summary = next(
        s for s in client.list_ip_sets(Scope="CLOUDFRONT")["IPSets"] if s["Name"] == name
    )
    ip_set = client.get_ip_set(Name=name, Scope="CLOUDFRONT", Id=summary["Id"])["IPSet"]
    return set(ip_set["Addresses"])


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production's PBKDF2 costs ~0.3 s per hash; hashing strength is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def edge_headers(viewer: str = VIEWER_IP) -> dict:
    """What CloudFront and the ALB add: the secret, the viewer address, the ALB as peer."""
    return {
        **alb_headers(viewer),
        "REMOTE_ADDR": EDGE_IP,
        "HTTP_X_ORIGIN_VERIFY": ORIGIN_SECRET,
        "HTTP_CLOUDFRONT_VIEWER_ADDRESS": f"{viewer}:51234",
    }


def cover(*cidrs: str) -> None:
    """Put networks on the allowlist directly (no WAF): the viewers a test uses."""
    from accesscontrol.models import AllowedNetwork

    for cidr in cidrs:
        version = 6 if ":" in cidr else 4
        AllowedNetwork.objects.create(cidr=cidr, ip_version=version, label=f"test {cidr}")


@pytest.fixture
def through_edge(db, settings):
    """Production's mode: the origin secret is on (requests use edge_headers)."""
    settings.GATEHOUSE_ORIGIN_SECRETS = [ORIGIN_SECRET]
    return settings
