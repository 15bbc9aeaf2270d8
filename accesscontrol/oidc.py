"""The identity provider's boundary (OpenID Connect through Authlib's Django client): the
only module that speaks to the provider.

- `authorization_redirect`: the authorization code flow's first leg, with `state`, a
  `nonce` and a PKCE (S256) code verifier kept in the session; endpoints come from the
  issuer's discovery document (/.well-known/openid-configuration).
- `validated_claims`: the callback leg: the state must be one this session started (once),
  the code is exchanged with the verifier, and the ID token is validated by Authlib:
  signature through the provider's JWKS (re-read when a key id is unknown), `iss` = the
  discovered issuer (which must be the configured one), `aud` contains our client id (and
  `azp`, if sent, is us), `exp`/`iat` (two minutes' leeway), `nonce`, `at_hash`. Every
  failure becomes `SsoRefused` with a message for the person; provider-supplied text is
  never shown (it arrives in the URL).
- `end_session_url`: the provider's end_session_endpoint (RP-initiated logout), if any.

Discovery and keys are cached per configuration for an hour, so a provider's key rotation
or endpoint change is picked up without a restart. Authlib, joserfc and requests are
imported on first use: processes that never sign anyone in this way (every command, a
deployment without single sign-on) do not pay for them at start-up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect

from accesscontrol.oidc_config import CALLBACK_PATH, OidcConfig
from accesscontrol.sso import SsoRefused

if TYPE_CHECKING:
    from authlib.integrations.django_client import DjangoOAuth2App

log = logging.getLogger(__name__)

CLIENT_NAME = "gatehouse"
TIMEOUT_SECONDS = 10  # a provider that hangs must not hold a worker
METADATA_TTL_SECONDS = 3600
# Errors a provider may send back (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) that we name.
PROVIDER_ERRORS = {
    "access_denied": "you (or its policy) declined the sign-in",
    "login_required": "you are not signed in there",
    "consent_required": "Gatehouse has not been granted consent",
    "interaction_required": "it needs you to act there first",
    "unauthorized_client": "Gatehouse's app is not allowed to sign in this way",
    "invalid_scope": "it does not offer a scope Gatehouse asks for (GATEHOUSE_OIDC_SCOPES)",
    "server_error": "it had an internal error",
    "temporarily_unavailable": "it is temporarily unavailable",
}

_lock = threading.Lock()
_apps: dict[tuple[str, ...], tuple[float, DjangoOAuth2App]] = {}


def client_for(config: OidcConfig) -> DjangoOAuth2App:
    """Authlib's client for this provider; rebuilt (discovery and keys re-read) hourly."""
    from authlib.integrations.django_client import OAuth

    key = (config.issuer, config.client_id, config.client_secret, *config.scopes)
    now = time.monotonic()
    with _lock:
        cached = _apps.get(key)
        if cached is not None and now - cached[0] < METADATA_TTL_SECONDS:
            return cached[1]
        oauth = OAuth()
        app = oauth.register(
            name=CLIENT_NAME,
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            client_kwargs={
                "scope": " ".join(config.scopes),
                "code_challenge_method": "S256",
                # The provider's token endpoint authenticates us with the secret in the body
                # or Basic auth; Authlib picks Basic (client_secret_basic), which all three
                # documented providers accept.
                "default_timeout": TIMEOUT_SECONDS,
            },
        )
        _apps[key] = (now, app)
        return app


def forget_clients() -> None:
    """Drop cached discovery documents and keys (tests; a rotated secret)."""
    with _lock:
        _apps.clear()


def _metadata(config: OidcConfig, app: DjangoOAuth2App) -> dict[str, Any]:
    import requests

    try:
        metadata: dict[str, Any] = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC discovery failed for %s: %s", config.discovery_url, exc)
        forget_clients()
        raise SsoRefused(
            "provider_unreachable",
            f"Gatehouse could not reach {config.provider_name}. Try again in a minute; if it "
            "persists, an administrator should check GATEHOUSE_OIDC_ISSUER.",
        ) from exc
    if str(metadata.get("issuer", "")).rstrip("/") != config.issuer.rstrip("/"):
        forget_clients()
        log.error(
            "OIDC discovery at %s names issuer %r, not the configured %r",
            config.discovery_url,
            metadata.get("issuer"),
            config.issuer,
        )
        raise SsoRefused(
            "provider_misconfigured",
            f"{config.provider_name}'s discovery document names another issuer than "
            "GATEHOUSE_OIDC_ISSUER: an administrator must correct the setting.",
        )
    return metadata


def authorization_redirect(
    *, config: OidcConfig, request: HttpRequest, redirect_uri: str
) -> HttpResponseRedirect:
    """Redirect to the provider's authorization endpoint (code flow, PKCE, state, nonce)."""
    import requests

    app = client_for(config)
    _metadata(config, app)
    try:
        response: HttpResponseRedirect = app.authorize_redirect(request, redirect_uri)
    except (requests.RequestException, RuntimeError) as exc:
        log.warning("OIDC authorization request for %s failed: %s", config.issuer, exc)
        raise SsoRefused(
            "provider_unreachable", f"Gatehouse could not reach {config.provider_name}."
        ) from exc
    return response


def validated_claims(*, config: OidcConfig, request: HttpRequest) -> tuple[dict[str, Any], str]:
    """The callback: exchange the code; the validated ID token's claims, and the token."""
    import requests
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
    from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

    app = client_for(config)
    name = config.provider_name
    metadata = _metadata(config, app)
    if not request.GET.get("error") and not (request.GET.get("code") and request.GET.get("state")):
        raise SsoRefused(
            "callback_invalid",
            f"This page expects a sign-in answer from {name}; start with 'Sign in with {name}'.",
        )
    try:
        token = app.authorize_access_token(
            request,
            # Authlib checks `iss` by default, but `aud` only through `azp` (a token for
            # another client that names us as its authorized party would pass): OIDC Core
            # 3.1.3.7 says the audience MUST contain our client id. Both, explicitly.
            claims_options={
                "iss": {"essential": True, "values": [metadata["issuer"]]},
                "aud": {"essential": True, "values": [config.client_id]},
            },
        )
    except MismatchingStateError as exc:
        raise SsoRefused(
            "state_mismatch",
            f"This sign-in answer from {name} does not belong to a sign-in started in this "
            "browser (its state does not match, or it was already used). Start again with "
            f"'Sign in with {name}'.",
        ) from exc
    except ExpiredTokenError as exc:
        raise SsoRefused(
            "token_expired",
            f"{name}'s ID token has expired (check this server's clock if it keeps happening). "
            "Sign in again.",
        ) from exc
    except ClaimError as exc:
        raise SsoRefused(
            f"token_{exc.claim}_invalid",
            f"{name}'s ID token failed validation: its '{exc.claim}' claim is "
            + (
                "for another application (audience), so it is not accepted here."
                if exc.claim == "aud"
                else "not what Gatehouse expects."
            ),
        ) from exc
    except BadSignatureError as exc:
        raise SsoRefused(
            "token_signature_invalid",
            f"{name}'s ID token is not signed by one of {name}'s published keys.",
        ) from exc
    except JoseError as exc:
        log.warning("OIDC ID token from %s rejected: %r", config.issuer, exc)
        raise SsoRefused("token_invalid", f"{name}'s ID token could not be validated.") from exc
    except OAuthError as exc:
        if exc.error in PROVIDER_ERRORS:
            reason = PROVIDER_ERRORS[exc.error]
        else:
            log.warning("OIDC error from %s: %s %s", config.issuer, exc.error, exc.description)
            reason = "it did not complete the sign-in"
        raise SsoRefused("provider_error", f"{name} refused the sign-in: {reason}.") from exc
    except requests.RequestException as exc:
        log.warning("OIDC token request to %s failed: %s", config.issuer, exc)
        raise SsoRefused(
            "provider_unreachable", f"Gatehouse could not complete the sign-in with {name}."
        ) from exc
    userinfo = token.get("userinfo")
    if not userinfo or not token.get("id_token"):
        raise SsoRefused("no_id_token", f"{name} answered without an ID token.")
    return dict(userinfo), str(token["id_token"])


def end_session_url(*, config: OidcConfig, id_token: str | None, return_to: str) -> str | None:
    """Where to send the browser to end the provider's session too, or None when the
    provider publishes no end_session_endpoint (Google, for one)."""
    app = client_for(config)
    try:
        metadata = _metadata(config, app)
    except SsoRefused:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    url: str = app.create_logout_url(
        post_logout_redirect_uri=return_to,
        id_token_hint=id_token or None,
        client_id=config.client_id,
    )["url"]
    return url


def configured() -> OidcConfig | None:
    config: OidcConfig | None = settings.GATEHOUSE_OIDC
    return config


def redirect_uri_for(*, config: OidcConfig, request: HttpRequest) -> str:
    """The callback URL: GATEHOUSE_OIDC_REDIRECT_URI, else this site's (https behind the
    ALB, which sets X-Forwarded-Proto; the Host the viewer used, which ALLOWED_HOSTS
    vouches for)."""
    return config.redirect_uri or request.build_absolute_uri(CALLBACK_PATH)


def site_root_for(*, config: OidcConfig, request: HttpRequest) -> str:
    """Where the provider sends the browser after ending its session: the console."""
    if config.redirect_uri:
        return config.redirect_uri.removesuffix(CALLBACK_PATH) + "/"
    return request.build_absolute_uri("/")
