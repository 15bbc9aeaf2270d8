"""The single sign-on settings: parsed once at start-up; a bad value names its variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from accesscontrol.oidc_config import (
    load_oidc_config,
    parse_domains,
    parse_role_map,
    password_login_mode,
)
from accesscontrol.sso import mapped_roles, provider_groups, role_name

BASE = {
    "GATEHOUSE_OIDC_ISSUER": "https://login.example.com/tenant/v2.0",
    "GATEHOUSE_OIDC_CLIENT_ID": "client",
    "GATEHOUSE_OIDC_CLIENT_SECRET": "secret",
}


def load(**env):
    values = {**BASE, **env}
    return load_oidc_config(lambda name, default: values.get(name, default))


def test_unset_issuer_turns_single_sign_on_off():
    assert load_oidc_config(lambda name, default: default) is None


def test_defaults():
    config = load()
    assert config.scopes == ("openid", "email", "profile")
    assert config.groups_claim == "groups"
    assert config.role_map == {} and config.allowed_email_domains == ()
    assert config.provider_name == "single sign-on"
    assert config.discovery_url == (
        "https://login.example.com/tenant/v2.0/.well-known/openid-configuration"
    )
    assert config.auth_method == "sso:single sign-on"


def test_role_map_parses_pairs_keeping_group_case():
    assert parse_role_map(" Gatehouse-Editors = editor , viewers=VIEWER,,admins=superuser ") == {
        "Gatehouse-Editors": "editor",
        "viewers": "viewer",
        "admins": "superuser",
    }
    # Entra ID sends group object ids; they parse like names.
    assert parse_role_map("0b1c7e52-1f4e-4d6a-9c1e-2f3a4b5c6d7e=editor") == {
        "0b1c7e52-1f4e-4d6a-9c1e-2f3a4b5c6d7e": "editor"
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("gatehouse-editors", "is not group=role"),
        ("=editor", "is not group=role"),
        ("editors=admin", "a role is one of viewer, editor, superuser"),
        ("ops=viewer,ops=editor", "mapped twice"),
    ],
)
def test_bad_role_map_is_improperly_configured_naming_the_variable(value, words):
    with pytest.raises(ImproperlyConfigured) as raised:
        load(GATEHOUSE_OIDC_ROLE_MAP=value)
    assert "GATEHOUSE_OIDC_ROLE_MAP" in str(raised.value) and words in str(raised.value)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GATEHOUSE_OIDC_CLIENT_ID": ""}, "GATEHOUSE_OIDC_CLIENT_ID"),
        ({"GATEHOUSE_OIDC_CLIENT_SECRET": " "}, "GATEHOUSE_OIDC_CLIENT_SECRET"),
        ({"GATEHOUSE_OIDC_ISSUER": "http://idp.example.com"}, "GATEHOUSE_OIDC_ISSUER"),
        ({"GATEHOUSE_OIDC_SCOPES": "email profile"}, "GATEHOUSE_OIDC_SCOPES"),
        ({"GATEHOUSE_OIDC_ALLOWED_EMAIL_DOMAINS": "a@b.com"}, "ALLOWED_EMAIL_DOMAINS"),
        ({"GATEHOUSE_OIDC_REDIRECT_URI": "https://x.example/cb"}, "GATEHOUSE_OIDC_REDIRECT_URI"),
    ],
)
def test_other_bad_values_name_their_variable(env, variable):
    with pytest.raises(ImproperlyConfigured, match=variable):
        load(**env)


def test_domains_are_lower_case_without_at():
    assert parse_domains("Example.COM, @corp.example.org,") == ("example.com", "corp.example.org")


def test_loopback_http_issuer_is_allowed_for_the_development_provider():
    assert load(GATEHOUSE_OIDC_ISSUER="http://127.0.0.1:8002/o").issuer == "http://127.0.0.1:8002/o"


@pytest.mark.parametrize(
    ("value", "sso_on", "mode"),
    [("", False, "on"), ("", True, "superusers"), ("OFF", True, "off"), ("on", True, "on")],
)
def test_password_login_mode(value, sso_on, mode):
    assert password_login_mode(value, sso_on=sso_on) == mode


@pytest.mark.parametrize("value", ["off", "superusers"])
def test_password_login_cannot_be_limited_without_single_sign_on(value):
    with pytest.raises(ImproperlyConfigured, match="needs single sign-on"):
        password_login_mode(value, sso_on=False)


def test_password_login_unknown_value_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="GATEHOUSE_PASSWORD_LOGIN"):
        password_login_mode("yes", sso_on=True)


def test_groups_claim_forms_and_the_strongest_role():
    assert provider_groups({"groups": "solo"}, claim="groups") == ["solo"]
    assert provider_groups({"roles": ["a", "b"]}, claim="roles") == ["a", "b"]
    assert provider_groups({"groups": {"odd": 1}}, claim="groups") == []
    assert provider_groups({}, claim="groups") == []
    role_map = {"v": "viewer", "e": "editor", "s": "superuser"}
    assert role_name(mapped_roles(["v", "e", "unmapped"], role_map)) == "editor"
    assert role_name(mapped_roles(["v", "s"], role_map)) == "superuser"
    assert role_name(mapped_roles(["unmapped"], role_map)) == "none"
