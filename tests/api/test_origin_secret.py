"""Only requests carrying CloudFront's secret header reach the app (health exempt)."""

import pytest

from api.middleware import origin_secret_matches


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


@pytest.mark.parametrize("value", ["new-secret", "old-secret"])
def test_both_values_accepted_during_rotation(https_client, secrets, value):
    response = https_client.get("/api/test1", headers={"x-origin-verify": value})
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
