"""Single sign-on: who a validated ID token is in Gatehouse, and which role they get.

`sign_in_from_claims` takes the claims of an ID token that accesscontrol.oidc has already
validated (signature through the provider's JWKS, issuer, audience, expiry, nonce) and
returns the user to sign in, or raises `SsoRefused` with a message for the person.

Invariants:
- A user is found by the provider's account (`SingleSignOnIdentity`: issuer + `sub`),
  never by email or username, so a local (break-glass) account is never taken over; a
  username that a local account already holds is refused, not merged.
- Roles are re-read at every sign-in and come only from the provider's groups through
  GATEHOUSE_OIDC_ROLE_MAP: the `viewer` / `editor` group memberships and `is_superuser`
  are set to exactly what the map gives (a user whose groups map to nothing keeps an
  account but has no role: the API then shows and changes nothing). An empty map means
  the provider sends no usable groups (Google's ID tokens have none): then roles are
  given in Gatehouse (the Django admin) and sign-in leaves them alone; new users have none.
- Every sign-in is audited (auth.login, with the method and the role before and after);
  every refusal too (auth.sso_refused), one event per subject, address and reason per
  cool-off window with a count, as failed password sign-ins are (accesscontrol.signin).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accesscontrol.audit import Requester, record_audit_event
from accesscontrol.models import AuditEvent, SingleSignOnIdentity
from accesscontrol.oidc_config import EDITOR, SUPERUSER, VIEWER, OidcConfig

log = logging.getLogger(__name__)

REFUSED = "auth.sso_refused"
UNKNOWN_USER = "unknown user"
NO_ROLE = "none"
USERNAME_MAX = 150  # Django's AbstractUser.username
GOOGLE_ISSUER = "https://accounts.google.com"


@dataclass
class SsoRefused(Exception):
    """Single sign-on did not sign anyone in. `code` is stable (tests, the audit log);
    `message` is for the person at the browser; `subject` names the account when known."""

    code: str
    message: str
    subject: str = UNKNOWN_USER

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class SingleSignOnBackend(ModelBackend):
    """The backend a single sign-on session is signed in with (`login(..., backend=)`):
    it reloads the user for each request like ModelBackend (inactive users are signed
    out) but never accepts credentials: the provider did that."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        return None


BACKEND = f"{SingleSignOnBackend.__module__}.{SingleSignOnBackend.__qualname__}"


def provider_groups(claims: Mapping[str, Any], *, claim: str) -> list[str]:
    """The groups claim as a list of strings (a provider may send one group as a string)."""
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return []


def mapped_roles(groups: Iterable[str], role_map: Mapping[str, str]) -> set[str]:
    return {role_map[group] for group in groups if group in role_map}


def role_name(roles: set[str]) -> str:
    """The strongest of the mapped roles, as the console names it."""
    for role in (SUPERUSER, EDITOR, VIEWER):
        if role in roles:
            return role
    return NO_ROLE


def current_role(user: Any) -> str:
    if user is None:
        return NO_ROLE
    if user.is_superuser:
        return SUPERUSER
    names = set(user.groups.filter(name__in=(VIEWER, EDITOR)).values_list("name", flat=True))
    return role_name(names)


def check_email(claims: Mapping[str, Any], *, config: OidcConfig) -> str:
    """The (lower-case) email, refused when outside the allowed domains."""
    email = str(claims.get("email") or "").strip().lower()
    if not config.allowed_email_domains:
        return email
    domain = email.rpartition("@")[2]
    if not email or "@" not in email:
        raise SsoRefused(
            "email_missing",
            f"{config.provider_name} did not send an email address, and Gatehouse accepts only "
            f"addresses at {', '.join(config.allowed_email_domains)}. Ask an administrator to "
            "add the email scope to Gatehouse's app at the identity provider.",
        )
    # Google Workspace: `hd` names the account's Workspace domain (a personal Google account
    # may carry any verified address); when sent, it must be allowed too.
    hosted = str(claims.get("hd") or "").lower()
    if (hosted or config.issuer == GOOGLE_ISSUER) and hosted not in config.allowed_email_domains:
        raise SsoRefused(
            "hosted_domain_not_allowed",
            f"{email or 'This account'} is not an account of "
            f"{', '.join(config.allowed_email_domains)}'s Google Workspace.",
        )
    if claims.get("email_verified") is False:
        raise SsoRefused(
            "email_unverified",
            f"{config.provider_name} says the address {email} is not verified.",
        )
    if domain not in config.allowed_email_domains:
        raise SsoRefused(
            "email_domain_not_allowed",
            f"{email} is not allowed to sign in to Gatehouse: only addresses at "
            f"{', '.join(config.allowed_email_domains)} are.",
        )
    return email


def username_for(claims: Mapping[str, Any], *, email: str) -> str:
    name = email or str(claims.get("preferred_username") or "").strip()
    return (name or f"sso-{claims['sub']}")[:USERNAME_MAX]


def sign_in_from_claims(
    *, config: OidcConfig, claims: Mapping[str, Any], requester: Requester
) -> Any:
    """The user these validated claims sign in as, created or updated, roles re-read.
    Raises SsoRefused (audited) when the person may not sign in."""
    try:
        return _sign_in(config=config, claims=claims, requester=requester)
    except SsoRefused as refused:
        record_sso_refusal(requester=requester, refused=refused)
        raise


def _sign_in(*, config: OidcConfig, claims: Mapping[str, Any], requester: Requester) -> Any:
    subject_id = str(claims.get("sub") or "")
    if not subject_id:
        raise SsoRefused("claims_invalid", f"{config.provider_name} sent no subject (sub).")
    if config.groups_claim not in claims and config.groups_claim in (
        claims.get("_claim_names") or {}
    ):
        # Entra ID's "groups overage": too many groups for a token, sent by reference.
        raise SsoRefused(
            "groups_overage",
            f"{config.provider_name} sent your groups by reference (too many to fit in the "
            "sign-in token), so Gatehouse cannot read your role. Ask an administrator to "
            "emit only the groups assigned to the Gatehouse application.",
        )
    email = check_email(claims, config=config)
    managed = bool(config.role_map)  # else roles are given in Gatehouse (module docstring)
    groups = provider_groups(claims, claim=config.groups_claim)
    roles = mapped_roles(groups, config.role_map)
    user_model = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        identity = (
            SingleSignOnIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=config.issuer, subject=subject_id)
            .first()
        )
        created = identity is None
        if identity is None:
            username = username_for(claims, email=email)
            if user_model._default_manager.filter(username=username).exists():
                raise SsoRefused(
                    "username_taken",
                    f"A Gatehouse account named {username} already exists and is not linked to "
                    f"{config.provider_name}. Ask an administrator to rename or remove it.",
                    subject=f"user:{username}",
                )
            user = user_model._default_manager.create_user(username=username, email=email)
            user.set_unusable_password()  # signs in through the provider only
            identity = SingleSignOnIdentity(user=user, issuer=config.issuer, subject=subject_id)
            before_role = None
        else:
            user = identity.user
            if not user.is_active:
                raise SsoRefused(
                    "account_disabled",
                    f"Your Gatehouse account ({user.get_username()}) is deactivated. Ask an "
                    "administrator.",
                    subject=f"user:{user.get_username()}",
                )
            before_role = current_role(user)
        if email:
            user.email = email
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        if managed:
            user.is_superuser = SUPERUSER in roles
            user.is_staff = user.is_superuser  # the Django admin is for superusers only
        user.save()
        if managed:
            role_groups = Group.objects.filter(name__in=(VIEWER, EDITOR))
            user.groups.remove(*[g for g in role_groups if g.name not in roles])
            user.groups.add(*[g for g in role_groups if g.name in roles])
        identity.email = email
        identity.groups = groups[:100]
        identity.last_sign_in_at = now
        identity.save()
        role = role_name(roles) if managed else current_role(user)
        record_audit_event(
            requester=Requester(
                user=user, ip=requester.ip, user_agent=requester.user_agent, name=requester.name
            ),
            action="auth.login",
            subject=f"user:{user.get_username()}",
            before=None if before_role is None else {"role": before_role},
            after={
                "method": config.auth_method,
                "role": role,
                "groups": sorted(g for g in groups if g in config.role_map),
            },
            reason=f"First sign-in with {config.provider_name}: account created."
            if created
            else ""
            if before_role == role
            else f"Role changed by {config.provider_name}'s groups: {before_role} -> {role}.",
        )
    log.info("Signed in %s with %s (role %s)", user.get_username(), config.provider_name, role)
    return user


def record_sso_refusal(*, requester: Requester, refused: SsoRefused) -> AuditEvent:
    """One auth.sso_refused event per subject, address and reason per cool-off window;
    repeats count in `after` (anyone can fail a callback: it must not fill the log)."""
    source = str(requester.ip or "unknown address")
    log.warning("Single sign-on refused for %s from %s: %s", refused.subject, source, refused)
    now = timezone.now()
    with transaction.atomic():
        event = (
            AuditEvent.objects.select_for_update()
            .filter(
                action=REFUSED,
                subject=refused.subject,
                after__source=source,
                after__code=refused.code,
                created_at__gt=now - settings.AXES_COOLOFF_TIME,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if event is None:
            return record_audit_event(
                requester=requester,
                action=REFUSED,
                subject=refused.subject,
                after={"source": source, "code": refused.code, "refusals": 1},
                reason=refused.message,
            )
        counted: dict[str, Any] = event.after or {}
        after = {**counted, "refusals": counted.get("refusals", 0) + 1, "last_at": now.isoformat()}
        # A counter, the one kind of update the app makes to an audit event (as signin).
        AuditEvent.objects.filter(pk=event.pk).update(after=after)
        event.after = after
        return event
