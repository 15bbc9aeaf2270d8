"""ID-token validation: what a real provider would rarely send, from a small test provider
(discovery, JWKS and a token endpoint on a loopback port, tokens signed with a test RSA
key). Gatehouse's own code runs unmocked: the callback exchanges the code over HTTP and
Authlib validates the token against the served JWKS. Each refusal must sign nobody in,
say why, and be audited."""

from __future__ import annotations

import json
import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import role_group

CLIENT_ID = "gatehouse-test"
SECRET = "test-provider-secret"  # noqa: S105


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


class FakeProvider:
    """Serves discovery and JWKS; the token endpoint answers with `next_claims`, signed
    with `signing_key` (by default the published key)."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "published"})
        self.signing_key = self.key
        self.next_claims: dict = {}
        self.token_requests: list[dict] = []
        self.server = make_server("127.0.0.1", 0, self.app, _Server, _Quiet)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        body: dict[str, object]
        if path == "/.well-known/openid-configuration":
            body = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        elif path == "/jwks":
            body = {"keys": [self.key.as_dict(private=False)]}
        elif path == "/token" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            self.token_requests.append({k: v[0] for k, v in form.items()})
            header = {"alg": "RS256", "kid": self.signing_key.kid}
            body = {
                "access_token": "opaque-access-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": jwt.encode(header, self.next_claims, self.signing_key),
            }
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider():
    server = FakeProvider()
    yield server
    server.stop()


@pytest.fixture
def sso(settings, provider, db):
    from accesscontrol.oidc import forget_clients
    from accesscontrol.oidc_config import OidcConfig

    role_group("editor")
    settings.GATEHOUSE_OIDC = OidcConfig(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        role_map={"admins-of-gatehouse": "editor"},
        provider_name="Test IdP",
        redirect_uri="https://admin.example.com/api/auth/oidc/callback",
    )
    forget_clients()
    provider.signing_key = provider.key
    yield settings.GATEHOUSE_OIDC
    forget_clients()


def callback_with(client, provider, **claim_changes):
    """Start a sign-in, have the provider answer with an ID token for it (claims changed
    as given; None removes one), and hand the answer to the callback."""
    start = client.get("/api/auth/oidc/start")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": query["nonce"],
        "email": "erin@example.com",
        "groups": ["admins-of-gatehouse"],
    }
    claims.update(claim_changes)
    provider.next_claims = {k: v for k, v in claims.items() if v is not None}
    client.get("/api/auth/oidc/callback?" + urlencode({"code": "c0de", "state": query["state"]}))
    return client.get("/api/auth/session").json()


def test_a_valid_token_signs_in_and_the_code_went_with_its_verifier(make_client, sso, provider):
    body = callback_with(make_client(), provider)
    assert body["authenticated"] and body["user"]["role"] == "editor"
    exchange = provider.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code" and exchange["code"] == "c0de"
    assert exchange["redirect_uri"] == sso.redirect_uri
    assert len(exchange["code_verifier"]) >= 43  # PKCE: the secret behind code_challenge


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"aud": "another-app"}, "token_aud_invalid", "for another application (audience)"),
        # Issued to another client, naming us only as the authorized party: still not ours.
        ({"aud": "another-app", "azp": CLIENT_ID}, "token_aud_invalid", "(audience)"),
        ({"aud": [CLIENT_ID, "x"], "azp": "x"}, "token_azp_invalid", "'azp' claim"),
        ({"exp": int(time.time()) - 3600}, "token_expired", "ID token has expired"),
        ({"iss": "https://evil.example.com"}, "token_iss_invalid", "'iss' claim"),
        ({"nonce": "not-the-nonce"}, "token_nonce_invalid", "'nonce' claim"),
        ({"sub": None}, "token_sub_invalid", "'sub' claim"),
    ],
    ids=[
        "wrong-audience",
        "other-audience-azp-us",
        "azp-not-us",
        "expired",
        "wrong-issuer",
        "wrong-nonce",
        "no-subject",
    ],
)
def test_invalid_id_token_is_refused_with_the_reason(
    make_client, sso, provider, changes, code, words
):
    from django.contrib.auth import get_user_model

    from accesscontrol.models import AuditEvent

    body = callback_with(make_client(), provider, **changes)
    assert not body["authenticated"]
    assert body["sso_error"]["code"] == code
    assert words in body["sso_error"]["message"]
    assert not get_user_model().objects.exists()
    assert AuditEvent.objects.get(action="auth.sso_refused").after["code"] == code


def test_token_signed_by_an_unpublished_key_is_refused(make_client, sso, provider):
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "published"})
    body = callback_with(make_client(), provider)
    assert not body["authenticated"]
    assert body["sso_error"]["code"] == "token_signature_invalid"


def test_expiry_allows_two_minutes_of_clock_skew(make_client, sso, provider):
    body = callback_with(make_client(), provider, exp=int(time.time()) - 60)
    assert body["authenticated"]


def test_discovery_naming_another_issuer_is_refused(make_client, settings, sso, provider):
    from dataclasses import replace

    from accesscontrol.oidc import forget_clients

    # Configured with a trailing path the provider's discovery does not name.
    settings.GATEHOUSE_OIDC = replace(sso, issuer=provider.issuer + "/tenant")
    forget_clients()
    client = make_client()
    response = client.get("/api/auth/oidc/start")
    assert response.status_code == 302 and response["Location"] == "/"
    error = client.get("/api/auth/session").json()["sso_error"]
    assert error["code"] in ("provider_misconfigured", "provider_unreachable")


def test_unreachable_provider_is_a_clear_refusal(make_client, settings, sso):
    from dataclasses import replace

    from accesscontrol.oidc import forget_clients

    settings.GATEHOUSE_OIDC = replace(sso, issuer="http://127.0.0.1:9")  # discard port
    forget_clients()
    client = make_client()
    client.get("/api/auth/oidc/start")
    error = client.get("/api/auth/session").json()["sso_error"]
    assert error["code"] == "provider_unreachable"
    assert "could not reach Test IdP" in error["message"]


def test_a_hosted_domain_outside_the_allowed_ones_is_refused(make_client, settings, sso, provider):
    from dataclasses import replace

    settings.GATEHOUSE_OIDC = replace(sso, allowed_email_domains=("example.com",))
    body = callback_with(make_client(), provider, hd="elsewhere.example")
    assert body["sso_error"]["code"] == "hosted_domain_not_allowed"
    assert callback_with(make_client(), provider, hd="example.com")["authenticated"]


def test_groups_sent_by_reference_are_refused_with_advice(make_client, sso, provider):
    body = callback_with(
        make_client(),
        provider,
        groups=None,
        _claim_names={"groups": "src1"},
        _claim_sources={"src1": {"endpoint": "https://graph.example/"}},
    )
    assert body["sso_error"]["code"] == "groups_overage"
    assert "emit only the groups assigned" in body["sso_error"]["message"]
