"""Readiness for monitors: `GET /api/ready`, 200 when this instance can do its job, 503
with the reasons when not (accesscontrol.selectors.readiness).

Unlike `/api/health` (liveness, answered before Django) it goes through every gate: the
origin secret and the viewer allowlist, so a monitor asks through the edge from an allowed
address. It needs no sign-in and shows no error text, only stable codes and ages.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accesscontrol.selectors import readiness

log = logging.getLogger(__name__)


@never_cache
@require_http_methods(["GET", "HEAD"])
def ready(request: HttpRequest) -> JsonResponse:
    result = readiness(
        now=timezone.now(),
        pending_limit=timedelta(seconds=settings.GATEHOUSE_READY_PENDING_SECONDS),
    )
    if not result.ready:
        # The monitor sees the codes; the log line ties them to this request's id.
        log.warning("not ready: %s", ", ".join(p["code"] for p in result.problems))
    body = {"ready": result.ready, "problems": result.problems, "sets": result.sets}
    return JsonResponse(body, status=200 if result.ready else 503)
