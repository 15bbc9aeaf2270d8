"""The development OpenID provider (deploy/localstack/oidc_provider) for tests: started
once per test session (on first use) as its own process on a free loopback port, and a
scripted person who signs in there with `requests` (the browser tests use Chromium).

`dev_provider` is a session-scoped fixture (tests/conftest.py imports it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SECRET = "tests-dev-provider-secret"  # noqa: S105


@dataclass(frozen=True)
class DevProvider:
    issuer: str
    client_id: str
    client_secret: str

    def config(self, **overrides):
        from accesscontrol.oidc_config import OidcConfig, parse_domains, parse_role_map
        from deploy.localstack import oidc_provider as dev

        values = {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": tuple(dev.SCOPES.split()),
            "role_map": parse_role_map(dev.ROLE_MAP),
            "allowed_email_domains": parse_domains(dev.ALLOWED_EMAIL_DOMAINS),
            "provider_name": "Dev IdP",
            # Loopback: the provider accepts any port (RFC 8252); the test client never
            # follows this redirect itself.
            "redirect_uri": "http://127.0.0.1:9/api/auth/oidc/callback",
        }
        values.update(overrides)
        return OidcConfig(**values)


@pytest.fixture(scope="session")
def dev_provider(tmp_path_factory):
    from deploy.localstack import oidc_provider as dev
    from deploy.localstack.oidc_provider.__main__ import READY

    data = tmp_path_factory.mktemp("dev-oidc")
    log_path = data / "provider.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "deploy.localstack.oidc_provider",
                f"--data-dir={data}",
                f"--client-secret={CLIENT_SECRET}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while READY not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the development OpenID provider did not start:\n" + log_path.read_text())
        time.sleep(0.05)
    issuer = log_path.read_text().split(READY, 1)[1].split()[0]
    yield DevProvider(issuer=issuer, client_id=dev.CLIENT_ID, client_secret=CLIENT_SECRET)
    proc.terminate()
    proc.wait(timeout=10)


def sign_in_at_provider(authorize_url: str, username: str, password: str | None = None) -> str:
    """Follow the provider's sign-in form as a person would; return the URL the provider
    redirects the browser to (our callback, with `code` and `state`)."""
    from deploy.localstack.oidc_provider import DEMO_PASSWORD

    http = requests.Session()
    response = http.get(authorize_url, allow_redirects=True, timeout=10)
    assert "/accounts/login/" in response.url, response.text[:500]
    token = http.cookies.get("gatehouse_dev_idp_csrftoken")
    nxt = parse_qs(urlsplit(response.url).query)["next"][0]
    response = http.post(
        response.url,
        data={
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": password or DEMO_PASSWORD,
            "next": nxt,
        },
        headers={"Referer": response.url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    location = urljoin(response.url, response.headers["Location"])
    # The authorization endpoint, now signed in: it answers with the redirect to us.
    response = http.get(location, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"]


def callback_path(redirect: str) -> str:
    """The callback's path and query, for Django's test client."""
    parts = urlsplit(redirect)
    return f"{parts.path}?{parts.query}"
