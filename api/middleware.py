"""Request gates that run before anything else in Django.

- HealthCheckMiddleware answers `GET /api/health` first: ALB health checks carry the
  target's private IP as Host (which ALLOWED_HOSTS rejects), come over plain HTTP (which
  SECURE_SSL_REDIRECT would redirect) and must not depend on the database.
- OriginSecretMiddleware admits only requests that came through CloudFront, which adds
  `X-Origin-Verify: <secret>`. It marks them `request.origin_verified`, the one fact that
  lets accesscontrol.clientip trust CloudFront's viewer-address header.
"""

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.views.seed import health

HEALTH_PATH = "/api/health"
ORIGIN_HEADER = "X-Origin-Verify"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return health(request)
        return self.get_response(request)


def origin_secret_matches(presented: str, accepted: list[str]) -> bool:
    """Constant-time compare against every accepted value (no early exit on a match)."""
    presented_bytes = presented.encode()
    matched = False
    for secret in accepted:
        matched |= hmac.compare_digest(presented_bytes, secret.encode())
    return matched


class OriginSecretMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        accepted = [s for s in settings.GATEHOUSE_ORIGIN_SECRETS if s]
        request.origin_verified = False
        if accepted:
            presented = request.headers.get(ORIGIN_HEADER, "")
            if not origin_secret_matches(presented, accepted):
                return JsonResponse(
                    {
                        "error": {
                            "code": "origin_forbidden",
                            "message": "Requests must come through the CloudFront edge.",
                            "fields": {},
                        }
                    },
                    status=403,
                )
            request.origin_verified = True
        return self.get_response(request)
