"""Deployment checks Django cannot know about: production must not run without the
origin secret.

Without GATEHOUSE_ORIGIN_SECRETS nothing tells a request that came through CloudFront (and
WAF) from one sent straight to gunicorn by another host in the VPC: that one would skip
WAF, and Django could not tell the viewer's address. So production (DJANGO_DEBUG off,
GATEHOUSE_CLIENT_IP_SOURCE=cloudfront) without a secret is an error, reported by
`manage.py check --deploy` and at startup: adminsite.wsgi refuses to build the app, so
gunicorn's workers fail to boot instead of serving.

Registered for deploy checks only: `provision_infra` runs before the first secret exists
(its first apply prints it) and must not be stopped by this.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

ORIGIN_SECRETS_MISSING = "gatehouse.E001"


def origin_secret_errors() -> list[Error]:
    secrets = [s for s in settings.GATEHOUSE_ORIGIN_SECRETS if s.strip()]
    if settings.DEBUG or settings.GATEHOUSE_CLIENT_IP_SOURCE != "cloudfront" or secrets:
        return []
    return [
        Error(
            "GATEHOUSE_ORIGIN_SECRETS is not set: behind CloudFront (the default "
            "GATEHOUSE_CLIENT_IP_SOURCE=cloudfront) any host that reaches gunicorn directly "
            "would skip WAF and the edge.",
            hint="Set GATEHOUSE_ORIGIN_SECRETS to the X-Origin-Verify value provision_infra "
            "printed (comma list during a rotation), or GATEHOUSE_CLIENT_IP_SOURCE=direct "
            "when there is no edge in front.",
            id=ORIGIN_SECRETS_MISSING,
        )
    ]


@register(Tags.security, deploy=True)
def check_origin_secrets(app_configs: object = None, **kwargs: object) -> list[Error]:
    return origin_secret_errors()
