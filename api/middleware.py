"""Request gates that run before anything else in Django.

- HealthCheckMiddleware answers `GET /api/health` first: ALB health checks carry the
  target's private IP as Host (which ALLOWED_HOSTS rejects), come over plain HTTP (which
  SECURE_SSL_REDIRECT would redirect) and must not depend on the database.
- OriginSecretMiddleware admits only requests that came through CloudFront, which adds
  `X-Origin-Verify: <secret>` (accesscontrol.edge.ORIGIN_HEADER). It marks them
  `request.origin_verified`, the one fact that lets accesscontrol.clientip trust
  CloudFront's viewer-address header. It runs before static files and the HTTPS
  redirect: without the secret only the health check answers.
- ViewerAllowlistMiddleware (defence in depth, on whenever the secret is): a viewer that
  no active network covers is refused here too, as WAF would, so a leaked secret alone
  opens nothing. Exempt: the health check, sign-out and GATEHOUSE_ALLOWLIST_EXEMPT_PATHS.
  Cost: one indexed query (the allowlist's unique cidr index, 32 or 128 candidates).
- AdminMessageMiddleware is Django's MessageMiddleware for the Django admin only
  (/api/admin/): nothing else under /api/ shows messages, so the rest skip its storage.
- RequestContextMiddleware (right after the health check) gives every request an id: the
  Root of `X-Amzn-Trace-Id` (the ALB's trace id, also in its access logs) when the origin
  secret matched, else a new one: a header from anyone else is not believed. It is the
  `X-Request-Id` response header, in every log line written while the request is served
  (accesscontrol.requestlog) and in its audit events; the request's latency is recorded
  for the metrics (accesscontrol.metrics).
- RequestSizeMiddleware answers a body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE
  with 413 before anything reads it (the API's exception handler catches the undeclared,
  chunked case). The bulk import alone may send up to GATEHOUSE_IMPORT_MAX_BYTES (10,000
  lines with labels and notes outgrow Django's 2.5 MB default); DRF's JSON parser reads
  the stream, not `request.body`, so Django's own check does not cut it short.
"""

import hmac
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse

from accesscontrol import metrics
from accesscontrol.clientip import viewer_address, viewer_is_allowed
from accesscontrol.edge import (
    HEALTH_PATH,
    ORIGIN_FORBIDDEN_CODE,
    ORIGIN_FORBIDDEN_MESSAGE,
    ORIGIN_HEADER,
)
from accesscontrol.requestlog import REQUEST_ID_HEADER, request_id_scope
from api.views.seed import health

LOGOUT_PATH = "/api/auth/logout"
IMPORT_PATH = "/api/networks/import"


def _error(status: int, code: str, message: str) -> JsonResponse:
    body = {"error": {"code": code, "message": message, "fields": {}}}
    return JsonResponse(body, status=status)


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


# The ALB's trace id: "Root=1-<8 hex: epoch seconds>-<24 hex>", among other fields.
_TRACE_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24})\s*(?:;|$)")
TRACE_HEADER = "X-Amzn-Trace-Id"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _accepted_secrets() -> list[str]:
    return [s.strip() for s in settings.GATEHOUSE_ORIGIN_SECRETS if s.strip()]


def request_id_for(request: HttpRequest) -> str:
    """The edge's trace id when the request passed the origin secret, else a fresh one."""
    accepted = _accepted_secrets()
    if accepted and origin_secret_matches(request.headers.get(ORIGIN_HEADER, ""), accepted):
        match = _TRACE_ROOT.search(request.headers.get(TRACE_HEADER, ""))
        if match:
            return match.group(1)
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        with request_id_scope(request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        match = getattr(request, "resolver_match", None)
        metrics.request_answered(
            # Answered by a middleware (403, 413) when no URL was resolved.
            route=(match.url_name if match else None) or "none",
            method=request.method if request.method in _METHODS else "other",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class OriginSecretMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        accepted = _accepted_secrets()
        # Our own attribute on Django's request (HttpRequest declares no such field).
        request.origin_verified = False  # type: ignore[attr-defined]
        if accepted:
            presented = request.headers.get(ORIGIN_HEADER, "")
            if not origin_secret_matches(presented, accepted):
                return _error(403, ORIGIN_FORBIDDEN_CODE, ORIGIN_FORBIDDEN_MESSAGE)
            request.origin_verified = True  # type: ignore[attr-defined]
        return self.get_response(request)


def allowlist_exempt(request: HttpRequest) -> bool:
    path = request.path_info
    if path == HEALTH_PATH or (path == LOGOUT_PATH and request.method == "POST"):
        return True
    return any(path.startswith(prefix) for prefix in settings.GATEHOUSE_ALLOWLIST_EXEMPT_PATHS)


class ViewerAllowlistMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Only behind the edge (the secret matched): in direct mode there is no edge to
        # agree with, and a request without the secret never got this far.
        if (
            getattr(request, "origin_verified", False)
            and not allowlist_exempt(request)
            and not viewer_is_allowed(viewer_address(request))
        ):
            return _error(403, "viewer_not_allowed", settings.GATEHOUSE_BLOCK_MESSAGE)
        return self.get_response(request)


class RequestSizeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # Django allows None
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if request.path_info == IMPORT_PATH and limit is not None and declared > limit:
            return self._large_import(request, declared)
        if limit is not None and declared > limit:
            return request_too_large(limit)
        return self.get_response(request)

    def _large_import(self, request: HttpRequest, declared: int) -> HttpResponse:
        """An import body over Django's limit but within the import's: read it here, at
        most the import limit, so `request.body` (which DRF's JSON parser reads, and which
        refuses anything over DATA_UPLOAD_MAX_MEMORY_SIZE) is this cached copy."""
        limit: int = settings.GATEHOUSE_IMPORT_MAX_BYTES
        if declared > limit:
            return request_too_large(limit)
        body = request.read(limit + 1)
        if len(body) > limit:
            return request_too_large(limit)
        request._body = body  # Django's own cache of the body
        return self.get_response(request)


def request_too_large(limit: int | None = None) -> JsonResponse:
    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _error(413, "request_too_large", f"The request body is larger than {limit:,} bytes.")


ADMIN_PREFIX = "/api/admin/"


class AdminMessageMiddleware(MessageMiddleware):
    """Messages where something shows them: the Django admin. A subclass, so the admin's
    system check (admin.E409, "MessageMiddleware must be in MIDDLEWARE") still holds."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(ADMIN_PREFIX):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if hasattr(request, "_messages"):
            return super().process_response(request, response)
        return response
