"""The claims the development provider puts in its ID tokens: email, names and `groups`
(like Okta's groups claim), which Gatehouse maps to roles."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class DemoValidator(OAuth2Validator):  # type: ignore[misc]  # django-oauth-toolkit has no types
    # A claim is sent only with its scope; "groups" rides on a scope of its own.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "preferred_username": user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
