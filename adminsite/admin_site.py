"""The Django admin at /api/admin/, for active superusers only (Django's default also
admits any `is_staff` user) whose session passed the second factor when it needs one (the
admin changes users and roles: a password alone does not open it; sign in through the console
first). Installed through `GatehouseAdminConfig` in INSTALLED_APPS in
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
        from accesscontrol import second_factor  # the app registry is ready by now

        user = request.user
        if not (user.is_active and user.is_staff and user.is_superuser):
            return False
        current = second_factor.state(user=user, session=request.session)
        return current not in second_factor.BLOCKING_STATES


class GatehouseAdminConfig(AdminConfig):
    default_site = "adminsite.admin_site.SuperuserAdminSite"
