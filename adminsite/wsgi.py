"""WSGI entry point for gunicorn: `gunicorn adminsite.wsgi` (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")

from api.wsgi import with_health_check  # noqa: E402  (after the settings module is named)

# ALB health checks are answered before Django: no middleware, no host check, no database.
application = with_health_check(get_wsgi_application())
