"""`Authorization: Bearer <token>` for the JSON API (tokens: accesscontrol/tokens.py).

- `BearerTokenAuthentication` comes first in DEFAULT_AUTHENTICATION_CLASSES. A request
  without a Bearer header is left to the session class. A request with one is decided by
  the token alone: valid, it acts as the token; invalid, it is a 401 with the reason
  (`token_invalid`, `token_expired`, `token_revoked`, `token_creator_lacks_role`), and the
  session cookie next to it is never consulted, so no request gets the union of both.
- No CSRF check: CSRF forges requests that a browser authenticates by itself (cookies);
  a browser never adds an Authorization header on its own, and a cross-site page cannot
  set one without a CORS preflight this API never grants.
- Where tokens never work: the Django admin (/api/admin/, plain Django views with their
  own session login: DRF classes never run there), the access-link redemption (a plain
  Django view too), the session endpoints (/api/auth/*: refused here with
  `token_not_accepted`), and token management itself (api/views/tokens.py refuses a
  token: a leaked token must not mint its own successors).
- The request acts as a `TokenPrincipal`: exactly the token's role (the viewer or editor
  group's permissions, or superuser), named `token:<name>` in the audit trail. The
  creator's current role is checked on every request; a token above it stops working.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accesscontrol import tokens
from accesscontrol.models import ApiToken

# api.permissions is imported inside the functions: it imports rest_framework.views, which
# imports this module (DEFAULT_AUTHENTICATION_CLASSES) while it is still loading.

SCHEME = "Bearer"
# Session endpoints (sign-in, sign-out, session, second factor): people, not scripts.
REFUSED_PREFIXES = ("/api/auth/",)


class TokenAuthenticationFailed(exceptions.AuthenticationFailed):
    def __init__(self, message: str, code: str):
        super().__init__(detail=exceptions.ErrorDetail(message, code=code))


class TokenPrincipal:
    """The user-like stand-in a token request acts as (never saved: it is no user row;
    accesscontrol.audit.Requester stores no actor for it, only its name)."""

    is_api_token = True
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False  # the Django admin is for people
    pk = None
    id = None

    def __init__(self, token: ApiToken, codenames: frozenset[str]):
        self.token = token
        self.username = f"token:{token.name}"
        self.is_superuser = token.role == ApiToken.Role.SUPERUSER
        from api.permissions import CACHE_ATTR

        # api.permissions reads a user's permission codenames from this attribute first.
        setattr(self, CACHE_ATTR, codenames)

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


def role_codenames(role: str) -> frozenset[str]:
    """The accesscontrol permissions of the group named after the role (superusers need
    none: they hold every permission)."""
    from api.permissions import APP_LABEL

    if role == ApiToken.Role.SUPERUSER:
        return frozenset()
    return frozenset(
        Permission.objects.filter(content_type__app_label=APP_LABEL, group__name=role)
        .values_list("codename", flat=True)
        .distinct()
    )


def bearer_secret(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header ("" when the scheme is Bearer
    but the token is missing), or None when the request names no bearer token."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    return value.strip()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    # The sign-in method audit events record for a token's requests (api.requester).
    audit_method = "token"

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        secret = bearer_secret(request)
        if secret is None:
            return None
        if request._request.path_info.startswith(REFUSED_PREFIXES):
            raise TokenAuthenticationFailed(
                "API tokens are not accepted by the session endpoints; sign in instead.",
                "token_not_accepted",
            )
        if not secret or " " in secret or len(secret) > 200:
            raise TokenAuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>'.", "token_invalid"
            )
        try:
            token = tokens.usable_token(secret)
        except tokens.InvalidToken as exc:
            raise TokenAuthenticationFailed(str(exc), exc.code) from None
        from api.permissions import role_of

        creator = token.created_by
        if creator is None or tokens.rank(role_of(creator)) < tokens.rank(token.role):
            raise TokenAuthenticationFailed(
                f"The token {token.name!r} acts as {token.role}, which its creator no longer "
                "is (or the creator's account is gone or deactivated); make a new token.",
                "token_creator_lacks_role",
            )
        tokens.mark_used(token)
        return TokenPrincipal(token, role_codenames(token.role)), token

    def authenticate_header(self, request: Request) -> str:
        return SCHEME


def is_token_request(request: Request) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)


class BearerScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.tokens_auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}
