"""The development provider's pages: the OpenID endpoints under /o/ (the issuer), a
sign-in form, and a home page listing the demo users."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path

from deploy.localstack.oidc_provider import DEMO_PASSWORD, DEMO_USERS

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="devidp/login.html",
            extra_context={"demo_users": DEMO_USERS, "demo_password": DEMO_PASSWORD},
        ),
        name="login",
    ),
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path(
        "",
        lambda request: render(
            request,
            "devidp/login.html",
            {"demo_users": DEMO_USERS, "demo_password": DEMO_PASSWORD, "home": True},
        ),
    ),
]
