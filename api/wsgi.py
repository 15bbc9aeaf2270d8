"""A WSGI wrapper that answers the ALB health check before Django sees the request.

`GET /api/health` is what every target-group check and load balancer probe costs; it
needs no request object, no middleware and no database, so it is answered from the WSGI
environ with the same bytes as api.views.seed.health (which still serves it when Django
runs without this wrapper, e.g. under the test client or runserver).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from api.middleware import HEALTH_PATH

HEALTH_BODY = b'{"message":"This is /api/health"}\n'
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(HEALTH_BODY)))]


def with_health_check(app: "WSGIApplication") -> "WSGIApplication":
    def application(environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") == HEALTH_PATH and method in ("GET", "HEAD"):
            start_response("200 OK", list(_HEADERS))
            return [b""] if method == "HEAD" else [HEALTH_BODY]
        return app(environ, start_response)

    return application
