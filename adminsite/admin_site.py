"""The Django admin at /api/admin/, for active superusers only (Django's default also
admits any `is_staff` user). Installed through `GatehouseAdminConfig` in INSTALLED_APPS in
place of "django.contrib.admin", Django's documented way to replace the default site."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SuperuserAdminSite(admin.AdminSite):
    # Part of Gatehouse: say so, and link back to the console ("View site").
    site_header = "Gatehouse administration"
    site_title = "Gatehouse administration"
    index_title = "Users, roles and the allowlist"
    site_url = "/#/networks"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.is_superuser)


class GatehouseAdminConfig(AdminConfig):
    default_site = "adminsite.admin_site.SuperuserAdminSite"
