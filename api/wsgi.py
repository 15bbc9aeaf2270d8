"""A WSGI wrapper that answers the ALB health check before Django sees the request.

`GET /api/health` is what every target-group check and load balancer probe costs; it
needs no request object, no middleware and no database, so it is answered from the WSGI
environ with the same bytes as api.views.seed.health (which still serves it when Django
runs without this wrapper, e.g. under the test client or runserver).

`with_metrics` serves Prometheus on gunicorn's second listener (GATEHOUSE_METRICS_BIND),
chosen by the port the request arrived on (gunicorn's SERVER_PORT is the listening
socket's, not the Host header's). That port answers `GET /metrics` and nothing else, and
the main port never answers metrics: the ALB forwards only to the main port, so metrics
are reachable only where the network lets a scraper reach the metrics port (the VPC).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from accesscontrol.edge import HEALTH_BODY, HEALTH_PATH

METRICS_PATH = "/metrics"
_NOT_FOUND = b"Not found: this port serves only GET /metrics.\n"

_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(HEALTH_BODY)))]


def with_health_check(app: "WSGIApplication") -> "WSGIApplication":
    def application(environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") == HEALTH_PATH and method in ("GET", "HEAD"):
            start_response("200 OK", list(_HEADERS))
            return [b""] if method == "HEAD" else [HEALTH_BODY]
        return app(environ, start_response)

    return application


def metrics_port(bind: str) -> str:
    """The port of a "host:port" (IPv6 "[::]:9464") bind, "" when none is configured."""
    return bind.rpartition(":")[2] if bind else ""


def with_metrics(app: "WSGIApplication", *, port: str) -> "WSGIApplication":
    if not port:
        return app

    def application(environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        if str(environ.get("SERVER_PORT", "")) != port:
            return app(environ, start_response)
        if environ.get("PATH_INFO") != METRICS_PATH or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [_NOT_FOUND]
        from accesscontrol.metrics import CONTENT_TYPE, exposition

        body = exposition()
        headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    return application
