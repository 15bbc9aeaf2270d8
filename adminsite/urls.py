"""URL map: the seed's index at /, everything else under /api/ (CloudFront's /api/* behaviour)."""

from django.contrib import admin
from django.urls import include, path

from api.views.seed import index

# The Django admin (users and roles) is part of Gatehouse: say so, and link back to the
# console ("View site") rather than to the seed's index.
admin.site.site_header = "Gatehouse administration"
admin.site.site_title = "Gatehouse administration"
admin.site.index_title = "Users, roles and the allowlist"
admin.site.site_url = "/#/networks"

urlpatterns = [
    path("", index, name="index"),
    path("api/admin/", admin.site.urls),
    path("api/", include("api.urls")),
]
