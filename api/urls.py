"""Everything under /api/ (CloudFront routes /api/* to the ALB, the rest to S3)."""

from django.urls import path

from api.views import seed

urlpatterns = [
    path("health", seed.health, name="health"),
    path("test1", seed.test1, name="test1"),
]
