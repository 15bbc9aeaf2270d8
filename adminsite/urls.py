"""URL map: the seed's index at /, everything else under /api/ (CloudFront's /api/* behaviour)."""

from django.contrib import admin
from django.urls import include, path

from api.views.seed import index

# The admin site is adminsite.admin_site.SuperuserAdminSite (superusers only, branded).
urlpatterns = [
    path("", index, name="index"),
    path("api/admin/", admin.site.urls),
    path("api/", include("api.urls")),
]
