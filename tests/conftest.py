"""Shared fixtures. Tests load the production settings module with production defaults;
only the secret key and fake AWS credentials are supplied here."""

import os

# Set here, not in pytest's ini, so they are in place before Django reads settings:
# tests run the production settings module in production mode, which needs a key.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-key-" + "x" * 50)

import django  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    django.setup()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests run last, after pytest-django's own ordering: Playwright's sync API
    keeps an asyncio loop running in the main thread for the rest of the session, and
    Django refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Never reach a real account: fake credentials, no profile, no custom endpoint."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def https_client(client):
    """Django's test client as the ALB talks to gunicorn: HTTP with X-Forwarded-Proto."""
    client.defaults["HTTP_X_FORWARDED_PROTO"] = "https"
    return client
