"""WSGI entry point for gunicorn: `gunicorn adminsite.wsgi` (see gunicorn.conf.py).

It refuses to build the app when a deployment check fails (adminsite.checks): gunicorn's
workers then fail to boot, saying why, rather than serve an unguarded origin.
"""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")

_django = get_wsgi_application()

from django.conf import settings  # noqa: E402

from adminsite.checks import origin_secret_errors  # noqa: E402  (needs configured settings)
from api.wsgi import metrics_port, with_health_check, with_metrics  # noqa: E402

if errors := origin_secret_errors():
    raise ImproperlyConfigured(f"{errors[0].id}: {errors[0].msg} {errors[0].hint}")

# ALB health checks are answered before Django: no middleware, no host check, no database.
# Prometheus on its own listener only (GATEHOUSE_METRICS_BIND), never on the ALB's port.
application = with_metrics(
    with_health_check(_django), port=metrics_port(settings.GATEHOUSE_METRICS_BIND)
)
