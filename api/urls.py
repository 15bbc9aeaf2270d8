"""Everything under /api/ (CloudFront routes /api/* to the ALB, the rest to S3)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from api.views import (
    access,
    auth,
    blocked,
    bulk,
    errors,
    networks,
    oidc,
    ops,
    second_factor,
    seed,
    sync,
    tokens,
)

urlpatterns = [
    path("health", seed.health, name="health"),
    path("test1", seed.test1, name="test1"),
    path("ready", ops.ready, name="ready"),  # readiness for monitors (issue 17)
    path("auth/session", auth.SessionView.as_view(), name="auth-session"),
    path("auth/login", auth.LoginView.as_view(), name="auth-login"),
    path("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    # Single sign-on (OpenID Connect): browser redirects, not JSON (api.views.oidc).
    path("auth/oidc/start", oidc.start, name="auth-oidc-start"),
    path("auth/oidc/callback", oidc.callback, name="auth-oidc-callback"),
    # The second factor (TOTP, recovery codes): api.views.second_factor.
    path("auth/second-factor", second_factor.SecondFactorView.as_view(), name="second-factor"),
    path(
        "auth/second-factor/verify",
        second_factor.VerifyView.as_view(),
        name="second-factor-verify",
    ),
    path(
        "auth/second-factor/totp", second_factor.TotpEnrolView.as_view(), name="second-factor-totp"
    ),
    path(
        "auth/second-factor/totp/qr.svg",
        second_factor.TotpQrView.as_view(),
        name="second-factor-totp-qr",
    ),
    path(
        "auth/second-factor/totp/confirm",
        second_factor.TotpConfirmView.as_view(),
        name="second-factor-totp-confirm",
    ),
    path("me", networks.MeView.as_view(), name="me"),
    path("networks", networks.NetworkListView.as_view(), name="networks"),
    path("networks/mine", networks.MyNetworkView.as_view(), name="networks-mine"),
    path("networks/<int:pk>", networks.NetworkDetailView.as_view(), name="network-detail"),
    path("sync", sync.SyncView.as_view(), name="sync"),
    path("audit", sync.AuditView.as_view(), name="audit"),
    path("audit/export", sync.AuditExportView.as_view(), name="audit-export"),
    path("access/<str:token>", access.redeem, name="access-redeem"),
    path("access-links", access.AccessLinkListView.as_view(), name="access-links"),
    path("access-links/<int:pk>", access.AccessLinkDetailView.as_view(), name="access-link"),
    # Recently blocked (issue 17): WAF's sampled requests, by address.
    path("blocked", blocked.BlockedView.as_view(), name="blocked"),
    # -- bulk import/export and API tokens (issue 17) --
    path("networks/import", bulk.NetworkImportView.as_view(), name="networks-import"),
    path("networks/export", bulk.NetworkExportView.as_view(), name="networks-export"),
    path("tokens", tokens.ApiTokenListView.as_view(), name="tokens"),
    path("tokens/<int:pk>", tokens.ApiTokenDetailView.as_view(), name="token-detail"),
    # -- end bulk/tokens --
    path("schema", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # Last: anything else under /api/ is a JSON 404 (e.g. /api/networks/-1), not HTML.
    re_path(r"^(?P<unmatched>[\s\S]*)$", errors.not_found, name="api-not-found"),
]
