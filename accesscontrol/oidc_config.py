"""Single sign-on settings: the GATEHOUSE_OIDC_* and GATEHOUSE_PASSWORD_LOGIN variables,
parsed once when the settings load (adminsite.settings calls `load_oidc_config`).

Invariant: a bad value stops start-up with ImproperlyConfigured naming the variable, so a
typo in the role map can never silently grant (or withdraw) a role. Pure parsing: no
models, no network (the provider is first asked at the first sign-in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from django.core.exceptions import ImproperlyConfigured

VIEWER: Final = "viewer"
EDITOR: Final = "editor"
SUPERUSER: Final = "superuser"
ROLES: Final = (VIEWER, EDITOR, SUPERUSER)

# GATEHOUSE_PASSWORD_LOGIN (modes, not passwords)
PASSWORD_ON: Final = "on"  # noqa: S105
PASSWORD_SUPERUSERS: Final = "superusers"  # noqa: S105
PASSWORD_OFF: Final = "off"  # noqa: S105
PASSWORD_MODES: Final = (PASSWORD_ON, PASSWORD_SUPERUSERS, PASSWORD_OFF)

CALLBACK_PATH: Final = "/api/auth/oidc/callback"
DEFAULT_SCOPES: Final = "openid email profile"
DEFAULT_GROUPS_CLAIM: Final = "groups"


@dataclass(frozen=True)
class OidcConfig:
    """One identity provider (OpenID Connect, authorization code flow with PKCE)."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = tuple(DEFAULT_SCOPES.split())
    groups_claim: str = DEFAULT_GROUPS_CLAIM
    # IdP group name -> Gatehouse role (viewer, editor, superuser).
    role_map: Mapping[str, str] = field(default_factory=dict)
    # Lower-case domains; empty: any email (the IdP decides who has an account).
    allowed_email_domains: tuple[str, ...] = ()
    provider_name: str = "single sign-on"
    # The callback URL registered at the provider; empty: this site's
    # https://<host>/api/auth/oidc/callback, from the request.
    redirect_uri: str = ""

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def auth_method(self) -> str:
        """What the session records as its sign-in method (the MFA rule reads "sso:")."""
        return f"sso:{self.provider_name}"


def parse_role_map(text: str, *, variable: str = "GATEHOUSE_OIDC_ROLE_MAP") -> dict[str, str]:
    """`group=role,group=role` -> {group: role}. Group names keep their case (IdPs compare
    them exactly); a group named twice, an unknown role or a malformed pair is an error."""
    mapping: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        group, sep, role = item.rpartition("=")
        group, role = group.strip(), role.strip().lower()
        if not sep or not group or not role:
            raise ImproperlyConfigured(
                f"{variable}: {item!r} is not group=role (e.g. "
                "'gatehouse-editors=editor,gatehouse-viewers=viewer')."
            )
        if role not in ROLES:
            raise ImproperlyConfigured(
                f"{variable}: {item!r} maps to {role!r}; a role is one of {', '.join(ROLES)}."
            )
        if group in mapping and mapping[group] != role:
            raise ImproperlyConfigured(
                f"{variable}: the group {group!r} is mapped twice ({mapping[group]}, {role})."
            )
        mapping[group] = role
    return mapping


def parse_domains(
    text: str, *, variable: str = "GATEHOUSE_OIDC_ALLOWED_EMAIL_DOMAINS"
) -> tuple[str, ...]:
    domains: list[str] = []
    for raw in text.split(","):
        domain = raw.strip().lower().removeprefix("@")
        if not domain:
            continue
        if "@" in domain or "." not in domain or any(c.isspace() for c in domain):
            raise ImproperlyConfigured(
                f"{variable}: {raw.strip()!r} is not a domain (e.g. 'example.com')."
            )
        domains.append(domain)
    return tuple(domains)


def load_oidc_config(get: Callable[[str, str], str]) -> OidcConfig | None:
    """The provider from the environment (`get(name, default)`), or None when
    GATEHOUSE_OIDC_ISSUER is unset: single sign-on is off."""
    issuer = get("GATEHOUSE_OIDC_ISSUER", "").strip()
    if not issuer:
        return None
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ImproperlyConfigured(
            "GATEHOUSE_OIDC_ISSUER must be an https:// URL (plain http only on loopback, "
            f"for the development provider); got {issuer!r}."
        )
    client_id = get("GATEHOUSE_OIDC_CLIENT_ID", "").strip()
    client_secret = get("GATEHOUSE_OIDC_CLIENT_SECRET", "").strip()
    for name, value in (
        ("GATEHOUSE_OIDC_CLIENT_ID", client_id),
        ("GATEHOUSE_OIDC_CLIENT_SECRET", client_secret),
    ):
        if not value:
            raise ImproperlyConfigured(
                f"Set {name}: GATEHOUSE_OIDC_ISSUER turns single sign-on on."
            )
    redirect_uri = get("GATEHOUSE_OIDC_REDIRECT_URI", "").strip()
    if redirect_uri and not redirect_uri.endswith(CALLBACK_PATH):
        raise ImproperlyConfigured(
            f"GATEHOUSE_OIDC_REDIRECT_URI must end with {CALLBACK_PATH} (got {redirect_uri!r})."
        )
    scopes = tuple(get("GATEHOUSE_OIDC_SCOPES", DEFAULT_SCOPES).replace(",", " ").split())
    if "openid" not in scopes:
        raise ImproperlyConfigured(
            f"GATEHOUSE_OIDC_SCOPES must include 'openid' (got {' '.join(scopes)!r})."
        )
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        groups_claim=get("GATEHOUSE_OIDC_GROUPS_CLAIM", DEFAULT_GROUPS_CLAIM).strip()
        or DEFAULT_GROUPS_CLAIM,
        role_map=parse_role_map(get("GATEHOUSE_OIDC_ROLE_MAP", "")),
        allowed_email_domains=parse_domains(get("GATEHOUSE_OIDC_ALLOWED_EMAIL_DOMAINS", "")),
        provider_name=get("GATEHOUSE_OIDC_PROVIDER_NAME", "").strip() or "single sign-on",
        redirect_uri=redirect_uri,
    )


def password_login_mode(value: str, *, sso_on: bool) -> str:
    """GATEHOUSE_PASSWORD_LOGIN: `on`, `superusers` (break-glass only) or `off`.
    Default: `superusers` with single sign-on, `on` without it."""
    mode = value.strip().lower() or (PASSWORD_SUPERUSERS if sso_on else PASSWORD_ON)
    if mode not in PASSWORD_MODES:
        raise ImproperlyConfigured(
            f"GATEHOUSE_PASSWORD_LOGIN must be one of {', '.join(PASSWORD_MODES)}; got {value!r}."
        )
    if mode != PASSWORD_ON and not sso_on:
        raise ImproperlyConfigured(
            f"GATEHOUSE_PASSWORD_LOGIN={mode} needs single sign-on (GATEHOUSE_OIDC_ISSUER): "
            "without it nobody else could sign in."
        )
    return mode
