"""The Django admin at /api/admin/, for active superusers only (Django's default also
admits any `is_staff` user). Installed through `GatehouseAdminConfig` in INSTALLED_APPS in
place of "django.contrib.admin", Django's documented way to replace the default site."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class SuperuserAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.is_superuser)


class GatehouseAdminConfig(AdminConfig):
    default_site = "adminsite.admin_site.SuperuserAdminSite"
