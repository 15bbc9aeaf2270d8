"""Only requests carrying CloudFront's secret header reach the app (health exempt)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from api.middleware import origin_secret_matches
from tests.api.conftest import VIEWER_IP, cover

VIEWER = {"cloudfront-viewer-address": f"{VIEWER_IP}:443"}

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secrets(settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = ["new-secret", "old-secret"]


def test_missing_secret_is_forbidden(https_client, secrets):
    response = https_client.get("/api/test1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_forbidden"


def test_wrong_secret_is_forbidden(https_client, secrets):
    response = https_client.get("/api/test1", headers={"x-origin-verify": "guess"})
    assert response.status_code == 403


@pytest.fixture
def viewer_covered(db):
    cover(f"{VIEWER_IP}/32")  # Django, like WAF, admits only viewers on the allowlist


@pytest.mark.parametrize("value", ["new-secret", "old-secret"])
def test_both_values_accepted_during_rotation(https_client, secrets, viewer_covered, value):
    response = https_client.get("/api/test1", headers={"x-origin-verify": value, **VIEWER})
    assert response.status_code == 200


def test_health_needs_no_secret(client, secrets):
    assert client.get("/api/health").status_code == 200


def test_no_secrets_configured_means_direct_mode(https_client, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    assert https_client.get("/api/test1").status_code == 200


def test_compare_requires_exact_value():
    assert origin_secret_matches("abc", ["abc"])
    assert not origin_secret_matches("abcd", ["abc"])
    assert not origin_secret_matches("", ["abc"])


# -- without a matching secret no proxy header is believed (issue 12, item 5) -------------


def test_forwarded_for_is_not_believed_without_origin_secrets(client, settings):
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    response = client.get(
        "/api/auth/session",
        REMOTE_ADDR="10.0.7.9",  # another host in the VPC, straight to gunicorn
        HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.5",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.json()["viewer_ip"] == "10.0.7.9"


def test_forwarded_for_cannot_claim_a_covered_address_for_my_ip(make_client, settings, waf):
    # "Allow my IP" for an address of the client's choosing: not any more.
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    settings.GATEHOUSE_ALLOW_PRIVATE_RANGES = True
    client = make_client("editor", viewer="10.0.7.9")
    client.defaults["HTTP_X_FORWARDED_FOR"] = "198.51.100.20, 10.0.0.5"
    response = client.post("/api/networks/mine", {"label": "me"}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["cidr"] == "10.0.7.9/32"


@pytest.mark.parametrize("path", ["/api/static/admin/css/base.css", "/api/test1"])
def test_secret_is_checked_before_static_files_and_the_https_redirect(client, secrets, path):
    # Plain HTTP (no X-Forwarded-Proto) would be redirected; static files would be served.
    response = client.get(path, HTTP_HOST="testserver")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_forbidden"


def test_secret_entries_with_spaces_still_match(https_client, settings, viewer_covered):
    settings.GATEHOUSE_ORIGIN_SECRETS = ["new-secret", " old-secret"]
    response = https_client.get("/api/test1", headers={"x-origin-verify": "old-secret", **VIEWER})
    assert response.status_code == 200


def test_secret_list_from_the_environment_is_trimmed():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "GATEHOUSE_ORIGIN_SECRETS": "new-secret, old-secret ,",
    }
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "from adminsite import settings as s; print(s.GATEHOUSE_ORIGIN_SECRETS)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "['new-secret', 'old-secret']", result.stderr


# -- production refuses to run without the secret -----------------------------------------


def test_check_deploy_reports_missing_origin_secrets(settings):
    settings.DEBUG = False
    settings.GATEHOUSE_CLIENT_IP_SOURCE = "cloudfront"
    settings.GATEHOUSE_ORIGIN_SECRETS = []
    with pytest.raises(SystemCheckError) as caught:
        call_command("check", "--deploy", stdout=io.StringIO(), stderr=io.StringIO())
    assert "gatehouse.E001" in str(caught.value)
    assert "GATEHOUSE_ORIGIN_SECRETS" in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [{"GATEHOUSE_ORIGIN_SECRETS": "s3cret"}, {"GATEHOUSE_CLIENT_IP_SOURCE": "direct"}],
)
def test_check_deploy_passes_with_a_secret_or_in_direct_mode(settings, overrides):
    settings.DEBUG = False
    settings.GATEHOUSE_ORIGIN_SECRETS = [overrides.get("GATEHOUSE_ORIGIN_SECRETS", "")]
    settings.GATEHOUSE_CLIENT_IP_SOURCE = overrides.get("GATEHOUSE_CLIENT_IP_SOURCE", "cloudfront")
    from adminsite.checks import origin_secret_errors

    assert origin_secret_errors() == []


def wsgi_import(**env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    env.update(DJANGO_SECRET_KEY="k" * 60, DJANGO_ALLOWED_HOSTS="admin.example.com")
    env.update(env_overrides)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import adminsite.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_wsgi_app_refuses_to_start_without_origin_secrets():
    refused = wsgi_import()
    assert refused.returncode != 0
    assert "GATEHOUSE_ORIGIN_SECRETS" in refused.stderr
    assert "gatehouse.E001" in refused.stderr
    assert wsgi_import(GATEHOUSE_ORIGIN_SECRETS="s3cret").returncode == 0
