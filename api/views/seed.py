"""The seed's demo endpoints, answered byte for byte as the original Flask app did.

Flask's jsonify wrote compact JSON and a trailing newline; these views keep that, so
anything that scraped the old responses keeps working.
"""

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods


def flask_json(payload: dict[str, str]) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":")) + "\n"
    return HttpResponse(body, content_type="application/json")


@require_http_methods(["GET", "HEAD"])
def index(request: HttpRequest) -> HttpResponse:
    return flask_json({"message": "This is index"})


def health(request: HttpRequest) -> HttpResponse:
    """Liveness for the ALB target group: no database, no host check (see middleware)."""
    return flask_json({"message": "This is /api/health"})


# Exempt from CSRF on purpose: jQuery's $.post sent no token, and the view only echoes its
# input: no state changes, no session read, so a forged request can gain nothing.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def test1(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        name = request.POST.get("name")  # None when absent, printed as Flask did: "None"
        return flask_json({"message": f"Hello {name}. This is /api/test1"})
    return flask_json({"message": "This is /api/test1"})
