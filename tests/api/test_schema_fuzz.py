"""schemathesis over our own OpenAPI schema, every operation, as a signed-in editor:
no 5xx, and every response (status, content type, body) is one the schema documents.

Not checked: that every schema-valid body is accepted (positive_data_acceptance): a string
the schema allows as "cidr" may still be no network, or a private one, and the services
rightly answer 400 with a field message.

Requests go to the WSGI app in-process, as the ALB would send them (HTTPS, viewer in
X-Forwarded-For), with the session cookie and the CSRF token; WAF is moto. (The
schemathesis pytest plugin's lazy loader does not run on pytest 9, so each operation is
driven here with its hypothesis strategy.)
"""

import json
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import EDGE_IP, VIEWER_IP, make_user
from tests.conftest import sign_in

# schemathesis' WSGI transport keeps its cookie jar for "localhost".
BASE_URL = "https://localhost"


def load_schema():
    """The schema /api/schema serves (same generator and renderer), fed to schemathesis."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    raw = json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))
    # Authentication is the role matrix's subject (test_roles.py). Here every request is a
    # signed-in editor's, so schemathesis must not generate (or omit) the session cookie.
    raw.get("components", {}).pop("securitySchemes", None)
    for item in raw["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = get_wsgi_application()
    return loaded


SCHEMA = load_schema()
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@contextmanager
def keep_test_connection():
    """The raw WSGI handler closes the DB connection after each request (Django's test
    client turns that off around its own requests); on PostgreSQL that would end the
    test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def editor_auth(db, waf, settings):
    """Headers and cookies of a signed-in editor's browser, and networks to work on."""
    from accesscontrol.models import AllowedNetwork

    settings.ALLOWED_HOSTS = ["localhost"]
    client = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
    sign_in(client, make_user("editor"))
    client.get("/api/auth/session")
    # The office network keeps the allowlist non-empty; the others are there to edit.
    AllowedNetwork.objects.create(cidr="81.2.69.0/24", ip_version=4, label="Office")
    for i in range(1, 4):
        AllowedNetwork.objects.create(cidr=f"62.30.{i}.0/24", ip_version=4, label=f"n{i}")
    # GET /api/blocked reads the web ACL's sampled requests (503 without a web ACL).
    from accesscontrol.waf import forget_web_acl

    forget_web_acl()
    waf.create_web_acl(settings.GATEHOUSE_EDGE_NAME)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    headers = {
        "X-CSRFToken": cookies["csrftoken"],
        "Referer": f"{BASE_URL}/",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": f"{VIEWER_IP}, {EDGE_IP}",
        "User-Agent": "schemathesis",
    }
    # Explicit cookies win over the session cookie schemathesis generates for cookieAuth.
    return {"headers": headers, "cookies": cookies}


def test_schema_covers_every_api_operation():
    assert len(OPERATIONS) == 28


def has_input(label: str) -> bool:
    method, path = label.split(" ", 1)
    definition = SCHEMA.raw_schema["paths"][path][method.lower()]
    return bool(definition.get("parameters") or definition.get("requestBody"))


CASES = [(label, GenerationMode.POSITIVE) for label in sorted(OPERATIONS)] + [
    # An operation without parameters or body has no invalid input to try.
    (label, GenerationMode.NEGATIVE)
    for label in sorted(OPERATIONS)
    if has_input(label)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{lb} {m.value}" for lb, m in CASES])
def test_operation_answers_as_documented(label, mode, editor_auth):
    """Positive: valid input per the schema; negative: input the schema forbids (must be
    refused with a documented 4xx, never a 5xx)."""
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy(generation_mode=mode))
    # Examples per case: the Hypothesis profile's (tests/conftest.py: 25, or 8 in test-fast).
    @settings(
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        response = case.call_and_validate(
            base_url=BASE_URL, excluded_checks=[positive_data_acceptance], **editor_auth
        )
        # Signed in: "not_authenticated" would mean the fuzzing never got past the session.
        if response.status_code == 401:
            assert response.json()["error"]["code"] != "not_authenticated"

    with keep_test_connection():
        check()
