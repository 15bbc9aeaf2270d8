"""JSON answers for /api/ paths no route matches (Django's own 404 page is HTML)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from api.exceptions import error_body


# CSRF-exempt: it changes nothing, and a CSRF failure here would answer with an HTML page.
@csrf_exempt
def not_found(request: HttpRequest, unmatched: str = "") -> HttpResponse:
    # Keep APPEND_SLASH working for slash-terminated routes (e.g. /api/admin -> /api/admin/).
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse(
        error_body("not_found", f"No API endpoint at {request.path_info}."), status=404
    )
