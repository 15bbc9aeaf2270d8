"""The seed's demo API answers exactly as the original Flask app did."""

import pytest


def test_index_answers_seed_json(https_client):
    response = https_client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"message":"This is index"}\n'


def test_test1_get_answers_seed_json(https_client):
    response = https_client.get("/api/test1")
    assert response.status_code == 200
    assert response.content == b'{"message":"This is /api/test1"}\n'


def test_test1_post_greets_form_name_without_csrf_token(client):
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/test1", {"name": "Ada"}, headers={"x-forwarded-proto": "https"})
    assert response.status_code == 200
    assert response.content == b'{"message":"Hello Ada. This is /api/test1"}\n'


def test_test1_post_without_name_says_none_like_flask(https_client):
    response = https_client.post("/api/test1", {})
    assert response.content == b'{"message":"Hello None. This is /api/test1"}\n'


def test_test1_rejects_other_methods(https_client):
    assert https_client.delete("/api/test1").status_code == 405


def test_health_answers_alb_check_with_private_ip_host_over_http(client):
    # The ALB's health check: plain HTTP, the target's IP as Host, no X-Forwarded-Proto.
    # No django_db mark: pytest-django raises if the view touches the database.
    response = client.get("/api/health", headers={"host": "10.0.1.23:8000"})
    assert response.status_code == 200
    assert response.content == b'{"message":"This is /api/health"}\n'


def test_unknown_host_is_still_refused_elsewhere(client):
    response = client.get("/api/test1", headers={"host": "10.0.1.23:8000"})
    assert response.status_code == 400


def test_plain_http_is_redirected_to_https(client):
    response = client.get("/api/test1", headers={"host": "testserver"})
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@pytest.mark.parametrize("path", ["/", "/api/test1"])
def test_responses_carry_security_headers(https_client, path):
    response = https_client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response["Strict-Transport-Security"]
