"""Single sign-on's two browser legs (OpenID Connect authorization code flow):

- `GET /api/auth/oidc/start`: redirects to the provider (state, nonce, PKCE in the session).
- `GET /api/auth/oidc/callback`: the redirect URI registered at the provider. Validates the
  answer (accesscontrol.oidc), maps the person and their role (accesscontrol.sso), signs
  them in and sends the browser to the console.

Both are browser navigations, not API calls, so they answer with redirects: to the
provider, or to the console (`/`). A refusal is kept in the session for the console to
show once (`GET /api/auth/session` -> `sso_error`), so no message travels in a URL where
someone else could write it. They live under /api/ because CloudFront routes only /api/*
to Django, so the origin secret and the viewer allowlist apply to them as to any API call.
The callback is a GET by design (the provider redirects the browser): it is protected by
`state` (bound to this browser's session, used once), not by the CSRF token.
"""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accesscontrol import oidc, sso
from api.requester import requester_for
from api.views.errors import not_found

CONSOLE = "/"
# Session keys. The auth method is the contract with the second-factor rule (it treats
# "sso:..." as satisfied: the provider enforces its own); the ID token is the end-session
# request's id_token_hint; the error is shown once by GET /api/auth/session.
AUTH_METHOD_KEY = "gatehouse_auth_method"
ID_TOKEN_KEY = "gatehouse_sso_id_token"  # noqa: S105 (a session key's name)
ERROR_KEY = "gatehouse_sso_error"


def _refused(request: HttpRequest, refused: sso.SsoRefused) -> HttpResponseRedirect:
    request.session[ERROR_KEY] = {"code": refused.code, "message": refused.message}
    return HttpResponseRedirect(CONSOLE)


@never_cache
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    config = oidc.configured()
    if config is None:
        return not_found(request, unmatched=request.path_info)
    try:
        return oidc.authorization_redirect(
            config=config,
            request=request,
            redirect_uri=oidc.redirect_uri_for(config=config, request=request),
        )
    except sso.SsoRefused as refused:
        sso.record_sso_refusal(requester=requester_for(request), refused=refused)
        return _refused(request, refused)


@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    config = oidc.configured()
    if config is None:
        return not_found(request, unmatched=request.path_info)
    requester = requester_for(request)
    try:
        claims, id_token = oidc.validated_claims(config=config, request=request)
    except sso.SsoRefused as refused:
        sso.record_sso_refusal(requester=requester, refused=refused)
        return _refused(request, refused)
    try:
        user = sso.sign_in_from_claims(config=config, claims=claims, requester=requester)
    except sso.SsoRefused as refused:  # audited by sign_in_from_claims
        return _refused(request, refused)
    login(request, user, backend=sso.BACKEND)
    request.session[AUTH_METHOD_KEY] = config.auth_method
    request.session[ID_TOKEN_KEY] = id_token
    request.session.pop(ERROR_KEY, None)
    return HttpResponseRedirect(CONSOLE)


def take_error(request: HttpRequest) -> dict[str, str] | None:
    """The refusal to show once (the console's sign-in screen), if any."""
    error: dict[str, str] | None = request.session.pop(ERROR_KEY, None)
    return error


def end_session_url(request: HttpRequest) -> str | None:
    """The provider's end-session URL for this (single sign-on) session, or None. Read it
    before the session ends: it needs the ID token."""
    config = oidc.configured()
    method = str(request.session.get(AUTH_METHOD_KEY, ""))
    if config is None or not method.startswith("sso:"):
        return None
    return oidc.end_session_url(
        config=config,
        id_token=request.session.get(ID_TOKEN_KEY),
        return_to=oidc.site_root_for(config=config, request=request),
    )
