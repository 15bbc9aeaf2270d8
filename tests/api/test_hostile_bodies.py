"""Hostile request bodies get the usual error shape, not a 500 with a traceback
(issue 12, item 9)."""

import logging

import pytest

pytestmark = pytest.mark.django_db

FORTY_MIB = 40 * 1024 * 1024


def test_a_40_mib_body_is_413_in_the_error_shape(editor_client, waf, caplog):
    body = b'{"cidr": "' + b"1" * FORTY_MIB + b'"}'
    with caplog.at_level(logging.WARNING):
        response = editor_client.post("/api/networks", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not [r for r in caplog.records if r.exc_info]


def test_a_big_login_body_is_413_before_anything_reads_it(client):
    response = client.generic(
        "POST",
        "/api/auth/login",
        b"x" * 10,
        content_type="application/json",
        HTTP_X_FORWARDED_PROTO="https",
        CONTENT_LENGTH=str(FORTY_MIB),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_body_too_big_raised_inside_a_view_is_413(editor_client, waf, settings, monkeypatch):
    # The declared length passed the middleware (chunked, or a limit changed since):
    # Django still refuses to read it, and the API answers 413 rather than 500.
    from api import middleware

    monkeypatch.setattr(
        middleware.RequestSizeMiddleware, "__call__", lambda self, r: self.get_response(r)
    )
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = editor_client.post(
        "/api/networks",
        {"cidr": "203.0.113.0/24", "label": "x" * 200},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("path", ["/api/networks", "/api/auth/login"])
def test_deeply_nested_json_is_400(editor_client, waf, caplog, path):
    body = "[" * 100_000 + "]" * 100_000
    with caplog.at_level(logging.WARNING):
        response = editor_client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert not [r for r in caplog.records if r.exc_info]
