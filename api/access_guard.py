"""AccessPathMiddleware: what Django lets through under /api/access/, the one path the
edge opens to every viewer when access links are on (deploy/waf_rules.py).

Only the redeem page is there: `GET`/`HEAD`/`POST /api/access/<43-character token>`,
with no body but the form's (at most BODY_MAX_BYTES, length declared). Everything else
under the prefix is refused before CSRF, sessions or a view read anything. Every request
under the prefix first counts against a per-address throttle kept in the database (every
app instance shares it): more than GATEHOUSE_ACCESS_LINK_RATE_LIMIT in
ACCESS_THROTTLE_WINDOW answers 429. The viewer allowlist exempts the prefix
(settings.GATEHOUSE_ALLOWLIST_EXEMPT_PATHS); the origin secret does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from accesscontrol.access_links import INVALID_MESSAGE, TOKEN_LENGTH, URL_PREFIX, count_request
from accesscontrol.clientip import lockout_key

REDEEM_PATH = re.compile(rf"^{re.escape(URL_PREFIX)}[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}$")
ALLOWED_METHODS = ("GET", "HEAD", "POST")
BODY_MAX_BYTES = 1024  # the form: one CSRF token (64 characters) and its name
ACCESS_THROTTLE_WINDOW = timedelta(minutes=5)


def access_page(
    request: HttpRequest,
    *,
    title: str,
    lines: Iterable[str] = (),
    status: int = 200,
    **context: object,
) -> HttpResponse:
    """The access path's one page (no script, no stylesheet: the edge blocks those for a
    viewer outside the allowlist, and the CSP forbids inline ones)."""
    body = render_to_string(
        "access/page.html", {"title": title, "lines": lines, **context}, request=request
    )
    response = HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def not_valid_page(request: HttpRequest) -> HttpResponse:
    return access_page(
        request,
        title="Link not valid",
        lines=[INVALID_MESSAGE, "Ask the person who sent it for a new one."],
        status=404,
    )


class AccessPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(URL_PREFIX):
            return self.get_response(request)
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        limit = settings.GATEHOUSE_ACCESS_LINK_RATE_LIMIT
        if count_request(f"access:{lockout_key(request)}", window=ACCESS_THROTTLE_WINDOW) > limit:
            response = access_page(
                request,
                title="Too many requests",
                lines=["Too many requests from your address. Try again in a few minutes."],
                status=429,
            )
            response["Retry-After"] = str(int(ACCESS_THROTTLE_WINDOW.total_seconds()))
            return response
        if not REDEEM_PATH.match(request.path_info):
            return not_valid_page(request)
        if request.method not in ALLOWED_METHODS:
            response = access_page(
                request,
                title="Method not allowed",
                lines=["Open the link in a browser."],
                status=405,
            )
            response["Allow"] = ", ".join(ALLOWED_METHODS)
            return response
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return access_page(
                request, title="Length required", lines=["Send a Content-Length."], status=411
            )
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = BODY_MAX_BYTES + 1
        limit_bytes = BODY_MAX_BYTES if request.method == "POST" else 0
        if declared > limit_bytes:
            return access_page(
                request,
                title="Request too large",
                lines=[f"At most {limit_bytes} bytes here."],
                status=413,
            )
        return None
