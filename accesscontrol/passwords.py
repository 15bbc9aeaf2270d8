"""Who may sign in with a password (GATEHOUSE_PASSWORD_LOGIN), for every password form:
the console's (POST /api/auth/login) and the Django admin's.

`on`: everyone with a usable password; `superusers`: only superusers, as break-glass
while single sign-on is the way in (the default when it is configured); `off`: nobody.
A refused account fails like a wrong password (django-axes counts it), so the answer never
tells whether the password was right.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accesscontrol.oidc_config import PASSWORD_ON, PASSWORD_SUPERUSERS


def password_allowed(user: Any) -> bool:
    mode = settings.GATEHOUSE_PASSWORD_LOGIN
    if mode == PASSWORD_ON:
        return True
    return mode == PASSWORD_SUPERUSERS and bool(user.is_superuser)


class PasswordPolicyBackend(ModelBackend):
    """The rule applies when a password is checked, not to sessions already signed in."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return user if user is not None and password_allowed(user) else None
