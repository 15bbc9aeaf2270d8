"""Fixtures for the API tests: users in each role, clients as the ALB delivers requests
(HTTPS via X-Forwarded-Proto, the viewer in X-Forwarded-For). The WAF IP sets in moto
are `waf` in tests/conftest.py.

Most tests run without an origin secret (the app's direct mode, as in development): then
no proxy header is believed and the viewer is the connection's address, so the clients
connect from the viewer's address. `through_edge` turns the secret on, as production runs:
the viewer then comes from CloudFront's headers and must be on the allowlist."""

import pytest
from django.test import Client

from tests.conftest import role_group, sign_in

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

    User = get_user_model()
    if role == "superuser":
        return User.objects.create_superuser(role, f"{role}@example.com", PASSWORD)
    user = User.objects.create_user(role, f"{role}@example.com", PASSWORD)
    if role in ("viewer", "editor"):
        user.groups.add(role_group(role))
    return user


@pytest.fixture
def make_client(db):
    """make_client(role, csrf=False, viewer=..., second_factor=True) -> a client signed in
    as that role; second_factor=False leaves the session at the password step."""

    def build(
        role: str = "anonymous",
        *,
        csrf: bool = False,
        viewer: str = VIEWER_IP,
        second_factor: bool = True,
    ):
        client = Client(enforce_csrf_checks=csrf, **alb_headers(viewer))
        if role != "anonymous":
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(username=role).first() or make_user(role)
            sign_in(client, user, second_factor=second_factor)
        return client

    return build


@pytest.fixture
def editor_client(make_client):
    return make_client("editor")


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
