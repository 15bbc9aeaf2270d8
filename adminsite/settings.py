"""Gatehouse settings: one module, every value from the environment (django-environ).

Production is the default: a variable production must set has no default, and the
secure-by-default switches (cookies, HSTS, SSL redirect) are on unless DJANGO_DEBUG is.
Tests, the local stack and production all load this same file.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from accesscontrol.requestlog import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # git-ignored: the SQLite database and other local state

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key")
else:
    try:
        SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "Set the DJANGO_SECRET_KEY environment variable: it is required unless "
            "DJANGO_DEBUG=true (generate one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))')."
        ) from None

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "adminsite.admin_site.GatehouseAdminConfig",  # django.contrib.admin, superusers only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    # Second factor (TOTP): django-otp's device framework and its TOTP plugin.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accesscontrol",
    "api",
    "deploy",
]

MIDDLEWARE = [
    # First: answers ALB health checks before host validation, HTTPS redirect or the DB.
    "api.middleware.HealthCheckMiddleware",
    # Request id (X-Request-Id, in every log line and audit event) and latency metrics.
    "api.middleware.RequestContextMiddleware",
    # Then the gates, before anything answers (static files, the HTTPS redirect): only a
    # request that came through the edge, from a viewer on the allowlist, gets further.
    "api.middleware.OriginSecretMiddleware",
    "api.middleware.ViewerAllowlistMiddleware",
    # /api/access/ (exempt from the allowlist above): only the redeem page, throttled.
    "api.access_guard.AccessPathMiddleware",
    "api.middleware.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's messages, for the Django admin only (issue 18: the API never shows any).
    "api.middleware.AdminMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend plus GATEHOUSE_PASSWORD_LOGIN (single sign-on block below).
    "accesscontrol.passwords.PasswordPolicyBackend",
    # Sessions started by single sign-on (it checks no credentials itself).
    "accesscontrol.sso.SingleSignOnBackend",
]

ROOT_URLCONF = "adminsite.urls"
WSGI_APPLICATION = "adminsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gatehouse.sqlite3'}"),
}
# Several app instances share one database: keep connections briefly, check them first.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: Django's backend, but the health check of a reused connection looks at its
# socket instead of a `SELECT 1` round trip per request (adminsite/postgresql/base.py).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "adminsite.postgresql"
# SQLite (the local stack's database): a transaction takes the write lock when it begins
# (BEGIN IMMEDIATE) and a writer waits up to 20 s for another. With SQLite's default
# deferred transactions, a read-then-write transaction (update_network) that meets another
# writer (the scheduled sync) fails at once with "database is locked": a 500.
SQLITE_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": 20}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Only /api/* reaches Django through CloudFront, so the admin's static files live there too.
STATIC_URL = "/api/static/"
# WhiteNoise serves the admin's files straight from the installed apps: nothing to collect
# on a target, and tests see exactly what production serves.
WHITENOISE_USE_FINDERS = True

# --- HTTPS and cookies -------------------------------------------------------------------
# The ALB terminates TLS and always sets X-Forwarded-Proto (overwriting the client's).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env.bool("GATEHOUSE_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("GATEHOUSE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("GATEHOUSE_SESSION_SECONDS", default=8 * 3600)
CSRF_COOKIE_SAMESITE = "Lax"
# The console reads the CSRF cookie to send X-CSRFToken; the session cookie stays HttpOnly.
CSRF_COOKIE_HTTPONLY = False

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    # A bearer token (api.tokens_auth), when the request carries one, decides alone: the
    # session cookie next to it is not consulted (no union of both principals).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.tokens_auth.BearerTokenAuthentication",
        "api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Manage the office allowlist projected into the AWS WAF IP sets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api",
    # Separate request/response components: read-only fields are not asked for as input.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "NetworkStatusEnum": ["active", "expired"],
        "SyncStatusEnum": ["in_sync", "pending", "failed"],
        "AccessLinkStatusEnum": ["active", "used", "expired", "revoked"],
        "ApiTokenStatusEnum": ["active", "expired", "revoked"],
        "ApiTokenRoleEnum": ["viewer", "editor", "superuser"],
    },
}

# --- Login throttling (django-axes) ---------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("GATEHOUSE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("GATEHOUSE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address WAF judged, not REMOTE_ADDR (that is the ALB); for IPv6 its /64, so rotating
# through one's own /64 does not reset the count.
AXES_CLIENT_IP_CALLABLE = "accesscontrol.clientip.lockout_key"
# axes' database handler plus a second, per-account limit across all addresses (counted
# from axes' failure log, one row per failure): see accesscontrol.signin.
AXES_HANDLER = "accesscontrol.signin.GatehouseAxesHandler"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
GATEHOUSE_ACCOUNT_FAILURE_LIMIT = env.int("GATEHOUSE_ACCOUNT_FAILURE_LIMIT", default=20)
GATEHOUSE_ACCOUNT_FAILURE_WINDOW = timedelta(
    minutes=env.int("GATEHOUSE_ACCOUNT_FAILURE_WINDOW_MINUTES", default=60)
)
# The failure log is trimmed per username; it must keep at least one account window's worth.
AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT = max(100, GATEHOUSE_ACCOUNT_FAILURE_LIMIT)
AXES_VERBOSE = False
# A locked-out sign-in answers in the API's error shape: 429 with when to retry.
AXES_LOCKOUT_CALLABLE = "api.authentication.lockout_response"

# --- Second factor (TOTP, recovery codes): accesscontrol.second_factor ----------------------
# Who must have passed a second factor before changing anything: "editors" (everyone who
# can change something, and superusers), "all" (every signed-in user), "off".
GATEHOUSE_REQUIRE_MFA = env.str("GATEHOUSE_REQUIRE_MFA", default="editors").strip().lower()
if GATEHOUSE_REQUIRE_MFA not in ("editors", "all", "off"):
    raise ImproperlyConfigured("GATEHOUSE_REQUIRE_MFA must be 'editors', 'all' or 'off'.")
# The issuer an authenticator app shows next to the account.
OTP_TOTP_ISSUER = env.str("GATEHOUSE_TOTP_ISSUER", default="Gatehouse")
# django-otp's own back-off is off: wrong codes count towards django-axes' lockout instead
# (one lockout, reported like a wrong password: 429 with when to retry).
OTP_TOTP_THROTTLE_FACTOR = 0

# --- Gatehouse ------------------------------------------------------------------------------
# The edge's name: WAF IP sets are "<name>-office-v4" / "<name>-office-v6".
GATEHOUSE_EDGE_NAME = env.str("GATEHOUSE_EDGE_NAME", default="gatehouse")
# Where the viewer's address comes from: "cloudfront" (behind the edge) or "direct".
GATEHOUSE_CLIENT_IP_SOURCE = env.str("GATEHOUSE_CLIENT_IP_SOURCE", default="cloudfront")
if GATEHOUSE_CLIENT_IP_SOURCE not in ("cloudfront", "direct"):
    raise ImproperlyConfigured("GATEHOUSE_CLIENT_IP_SOURCE must be 'cloudfront' or 'direct'.")
# Values of X-Origin-Verify the app accepts: current first, previous during a rotation.
# Trimmed: "new, old" is how people type a list. Production (no DEBUG, cloudfront mode)
# refuses to start without one (adminsite.checks, gatehouse.E001).
GATEHOUSE_ORIGIN_SECRETS = [
    s.strip() for s in env.list("GATEHOUSE_ORIGIN_SECRETS", default=[]) if s.strip()
]
# With the secret on, Django refuses viewers outside the allowlist too (defence in depth:
# a leaked secret is not enough). Paths (prefixes) a feature deliberately opens to anyone,
# besides /api/health and POST /api/auth/logout, which are always exempt.
# /api/access/: access links (api.access_guard lets only the redeem page through).
GATEHOUSE_ALLOWLIST_EXEMPT_PATHS: list[str] = ["/api/access/"]
# Requests to /api/access/ per viewer address (IPv6: its /64) in 5 minutes, across every
# app instance (counted in the database); the edge's WAF rule allows 50 before blocking.
GATEHOUSE_ACCESS_LINK_RATE_LIMIT = env.int("GATEHOUSE_ACCESS_LINK_RATE_LIMIT", default=20)
# What a refused viewer reads: keep it the same as the edge config's block_message.
GATEHOUSE_BLOCK_MESSAGE = env.str(
    "GATEHOUSE_BLOCK_MESSAGE",
    default="Access to this site is limited to allowed networks. "
    "Ask an administrator to add your network.",
)
# Local stack only: let the local edge believe X-Gatehouse-Local-Viewer (tests claim other
# viewer addresses with it). Off, the header is stripped and the viewer is REMOTE_ADDR.
GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER = env.bool("GATEHOUSE_LOCAL_TRUST_VIEWER_HEADER", default=False)
GATEHOUSE_ALLOW_PRIVATE_RANGES = env.bool("GATEHOUSE_ALLOW_PRIVATE_RANGES", default=False)
GATEHOUSE_MIN_PREFIX_V4 = env.int("GATEHOUSE_MIN_PREFIX_V4", default=16)
GATEHOUSE_MIN_PREFIX_V6 = env.int("GATEHOUSE_MIN_PREFIX_V6", default=48)
# --- Single sign-on (OpenID Connect): off while GATEHOUSE_OIDC_ISSUER is unset -------------
# accesscontrol.oidc_config parses and checks every GATEHOUSE_OIDC_* variable (a bad value
# is ImproperlyConfigured naming it); accesscontrol.oidc / .sso do the sign-in.
from accesscontrol.oidc_config import load_oidc_config, password_login_mode  # noqa: E402

GATEHOUSE_OIDC = load_oidc_config(lambda name, default: env.str(name, default=default))
# "on", "superusers" (break-glass only; the default with single sign-on) or "off".
GATEHOUSE_PASSWORD_LOGIN = password_login_mode(
    env.str("GATEHOUSE_PASSWORD_LOGIN", default=""), sso_on=GATEHOUSE_OIDC is not None
)
# -- Notifications (accesscontrol.notifications) --------------------------------------------
# Apprise URLs, comma separated (e.g. json://hooks.example.com/gatehouse, slack://...,
# mailto://...). Empty: notifications are off and cost nothing. The scheduled sync_waf
# delivers them; a change request never does.
GATEHOUSE_NOTIFY_URLS = [
    u.strip() for u in env.list("GATEHOUSE_NOTIFY_URLS", default=[]) if u.strip()
]
# A WAF sync failing for this long (and its recovery afterwards) is notified.
GATEHOUSE_NOTIFY_SYNC_FAILING_MINUTES = env.int("GATEHOUSE_NOTIFY_SYNC_FAILING_MINUTES", default=15)
# -- end notifications ---------------------------------------------------------------------
# Group commit of WAF writes (accesscontrol.sync): how long a change waits for a sync
# round that covers it before answering "pending" (the scheduled sync then applies it).
GATEHOUSE_SYNC_WAIT_SECONDS = env.float("GATEHOUSE_SYNC_WAIT_SECONDS", default=5.0)
# --- Bulk import and API tokens (issue 17) ---
# The largest POST /api/networks/import body (every other request keeps Django's 2.5 MB
# DATA_UPLOAD_MAX_MEMORY_SIZE): 10,000 lines with labels and short notes fit in 5 MiB.
GATEHOUSE_IMPORT_MAX_BYTES = env.int("GATEHOUSE_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
# API tokens: the longest lifetime a new token may be given.
GATEHOUSE_TOKEN_MAX_DAYS = env.int("GATEHOUSE_TOKEN_MAX_DAYS", default=365)
# --- end bulk/tokens ---
# WAF for CloudFront is global: its API lives in us-east-1 whatever AWS_REGION says
# (accesscontrol.edge.WAF_REGION, shared with deploy/).
AWS_REGION = env.str("AWS_REGION", default="us-east-1")

# --- Operations: readiness, metrics, logs (issue 17) ------------------------------------------
# GET /api/ready answers 503 when an IP set has been pending (not synced) this long.
GATEHOUSE_READY_PENDING_SECONDS = env.int("GATEHOUSE_READY_PENDING_SECONDS", default=900)
# host:port of gunicorn's second listener that serves only GET /metrics (Prometheus), for
# the VPC, never the ALB; empty: no metrics listener (see gunicorn.conf.py, api.wsgi).
GATEHOUSE_METRICS_BIND = env.str("GATEHOUSE_METRICS_BIND", default="")
# "plain" (human-readable) or "json" (one JSON object per line, for log shippers).
GATEHOUSE_LOG_FORMAT = env.str("GATEHOUSE_LOG_FORMAT", default="plain")
if GATEHOUSE_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("GATEHOUSE_LOG_FORMAT must be 'plain' or 'json'.")

LOGGING = logging_config(
    log_format=GATEHOUSE_LOG_FORMAT, level=env.str("DJANGO_LOG_LEVEL", default="INFO")
)
