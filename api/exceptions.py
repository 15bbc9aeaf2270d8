"""The API's one error shape: `{"error": {"code", "message", "fields"}}`, made here only.

Some codes carry extra keys next to code/message/fields:
- 409 "duplicate": "existing" (the Network already on the list)
- 409 "self_lockout": "viewer_ip" and "covering" (the networks that admit you now, each
  with `covers_you` about the requester: the handler's context holds the request)
- 409 "empty_allowlist": "rule" (which invariant the change would break)
- 429 "locked_out": "retry_after_seconds" (made by api.authentication.lockout_response)

Nothing from botocore reaches a client: a failed read of the web ACL (WafReadError, GET
/api/blocked) is 503 "waf_unavailable" with our own message (the operation and AWS's
error code); other AWS failures are logged and answered with a generic 503 (the services
already turn WAF failures into a "pending" sync, so this is the last line, not the plan).
"""

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

if TYPE_CHECKING:
    from accesscontrol.models import AllowedNetwork

logger = logging.getLogger(__name__)


def error_body(
    code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, list):
        return [str(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return [str(detail)]


def _first_message(fields: dict[str, Any]) -> str | None:
    for key, value in fields.items():
        if isinstance(value, dict):
            nested = _first_message(value)
            if nested:
                return f"{key}.{nested}"
        elif value:
            return str(value[0]) if key == "non_field_errors" else f"{key}: {value[0]}"
    return None


def _networks(networks: Iterable["AllowedNetwork"], context: dict[str, Any]) -> list[Any]:
    from api.serializers import NetworkSerializer

    # DRF's handler context has the request: covers_you is about its requester.
    request = context.get("request")
    return list(NetworkSerializer(list(networks), many=True, context={"request": request}).data)


def _access_control_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map accesscontrol's domain exceptions to 409s (None: not one of them)."""
    from accesscontrol import exceptions as ac

    if isinstance(exc, ac.NetworkConflict):
        existing = exc.existing
        body = error_body(
            "duplicate",
            f"{existing.cidr} is already on the allowlist ({existing.label}).",
            {"cidr": [f"{existing.cidr} is already on the allowlist."]},
            existing=_networks([existing], context)[0],
        )
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ac.SelfLockout):
        covering = list(exc.covering)
        body = error_body(
            "self_lockout",
            f"This change would stop your address {exc.viewer_ip} from reaching Gatehouse. "
            "Repeat it with ?confirm=true if you mean it.",
            viewer_ip=exc.viewer_ip,
            covering=_networks(covering, context),
        )
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ac.EmptyAllowlist):
        # The service's message names the network and the rule (it holds no AWS text).
        body = error_body("empty_allowlist", str(exc), rule=exc.rule)
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ac.WafReadError):
        # Our own message (operation and AWS error code); the botocore text is in the log.
        body = error_body("waf_unavailable", f"{exc} Nothing was changed; try again shortly.")
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, ac.AccessControlError):
        logger.error("Access-control failure reached the API", exc_info=exc)
        body = error_body(
            "sync_unavailable",
            "The AWS WAF IP sets could not be reached. Nothing was lost; try again shortly.",
        )
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    mapped = _access_control_response(exc, context)
    if mapped is not None:
        set_rollback()
        return mapped
    if isinstance(exc, BotoCoreError | ClientError):
        logger.error("AWS call failed inside an API request", exc_info=exc)
        set_rollback()
        return Response(
            error_body("sync_unavailable", "AWS could not be reached; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    if isinstance(exc, RequestDataTooBig):
        # Normally answered by api.middleware.RequestSizeMiddleware before a view runs.
        from api.middleware import request_too_large

        set_rollback()
        too_large = request_too_large()
        return Response(json.loads(too_large.content), status=too_large.status_code)

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        # An unexpected error: still the one shape, never a traceback or an HTML page.
        logger.error("Unhandled error in an API view", exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail) if isinstance(exc.detail, dict) else {}
        if not isinstance(exc.detail, dict):
            fields = {"non_field_errors": _flatten(exc.detail)}
        message = _first_message(fields) or "Invalid input."
        response.data = error_body("invalid", message, fields)
    else:
        code = getattr(exc, "default_code", "error")
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(str(getattr(detail, "code", code) or code), str(detail))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.headers.pop("WWW-Authenticate", None)
    return response
