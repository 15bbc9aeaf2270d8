"""The WSGI entry point answers health checks itself, byte for byte as the Django view."""

from io import BytesIO

import pytest

from accesscontrol.edge import HEALTH_BODY


@pytest.fixture(autouse=True)
def production_app_starts(settings):
    """adminsite.wsgi refuses to start in production without an origin secret
    (gatehouse.E001); give it one to import, then test in direct mode as before."""
    settings.GATEHOUSE_ORIGIN_SECRETS = ["s3cret"]
    import adminsite.wsgi  # noqa: F401

    settings.GATEHOUSE_ORIGIN_SECRETS = []


def call(method: str, path: str, host: str = "10.0.3.17:8000") -> tuple[str, dict, bytes]:
    captured = {}

    def start_response(status, headers):
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "10.0.3.17",
        "SERVER_PORT": "8000",
        "HTTP_HOST": host,  # the target's private IP: not in ALLOWED_HOSTS
        "wsgi.input": BytesIO(b""),
        "wsgi.url_scheme": "http",  # ALB health checks come over plain HTTP
    }
    from adminsite.wsgi import application

    body = b"".join(application(environ, start_response))
    return captured["status"], captured["headers"], body


def test_health_is_answered_for_any_host_over_plain_http():
    status, headers, body = call("GET", "/api/health")
    assert status == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert body == HEALTH_BODY == b'{"message":"This is /api/health"}\n'


def test_health_body_matches_the_django_view(client):
    assert client.get("/api/health").content == HEALTH_BODY


def test_head_health_has_no_body():
    status, headers, body = call("HEAD", "/api/health")
    assert (status, body) == ("200 OK", b"")
    assert headers["Content-Length"] == str(len(HEALTH_BODY))


def test_other_paths_go_to_django(settings):
    from tests.api.test_schema_fuzz import keep_test_connection

    settings.ALLOWED_HOSTS = ["10.0.3.17"]
    with keep_test_connection():  # the raw handler would close connections pytest guards
        status, _, _ = call("GET", "/api/test1", host="10.0.3.17")
    assert status.startswith("301")  # Django's HTTPS redirect: it reached Django
