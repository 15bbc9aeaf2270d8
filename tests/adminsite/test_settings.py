"""Settings come from the environment and production defaults are secure."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3y-" + "".join(chr(33 + (i * 7) % 90) for i in range(60)),
    "DJANGO_ALLOWED_HOSTS": "admin.example.com",
    "DATABASE_URL": "sqlite:////tmp/gatehouse-check.sqlite3",
    "GATEHOUSE_ORIGIN_SECRETS": "s3cret-" + "o" * 40,
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_without_origin_secrets_is_an_error_naming_it():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "GATEHOUSE_ORIGIN_SECRETS"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "gatehouse.E001" in result.stderr
    assert "GATEHOUSE_ORIGIN_SECRETS" in result.stderr


def test_missing_secret_key_in_production_names_the_variable():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_bad_sso_role_map_stops_start_up_naming_the_variable():
    env = {
        **PRODUCTION_ENV,
        "GATEHOUSE_OIDC_ISSUER": "https://idp.example.com",
        "GATEHOUSE_OIDC_CLIENT_ID": "gatehouse",
        "GATEHOUSE_OIDC_CLIENT_SECRET": "s3cret",
        "GATEHOUSE_OIDC_ROLE_MAP": "gatehouse-editors=admin",
    }
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "GATEHOUSE_OIDC_ROLE_MAP: 'gatehouse-editors=admin' maps to 'admin'" in result.stderr


def test_debug_mode_runs_without_secret_key():
    result = manage("check", env={"DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_production_defaults_are_secure(settings):
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SECURE_SSL_REDIRECT
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings.X_FRAME_OPTIONS == "DENY"


def test_models_and_migrations_agree(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_default_sqlite_folder_exists_in_a_fresh_clone(settings):
    # `make run` on a clean clone migrates the default database straight away.
    assert (settings.VAR_DIR / ".gitkeep").is_file()
    assert str(settings.VAR_DIR) in env_default_database_url()


def env_default_database_url() -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from adminsite import settings; print(settings.DATABASES)"],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_settings_never_install_the_development_openid_provider(settings):
    # It runs in its own process with its own settings (deploy/localstack/oidc_provider).
    assert not any("oauth2_provider" in app for app in settings.INSTALLED_APPS)
    assert not any("localstack" in app for app in settings.INSTALLED_APPS)
