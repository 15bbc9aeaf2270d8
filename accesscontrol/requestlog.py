"""The request id and the log formats that carry it.

Invariant: while a request is served, `current_request_id()` is that request's id (set by
api.middleware.RequestContextMiddleware), so every log line written during it and every
audit event it makes carries the same id as its `X-Request-Id` response header. Outside a
request (commands, the scheduled sync) it is "".

`RequestIdFilter` puts it on every log record as `request_id`. Django's own
"Forbidden: /api/..." lines are written after the middleware returned; they carry the
request itself (`record.request`), so the filter reads the id from there.

JSON lines (GATEHOUSE_LOG_FORMAT=json) come from python-json-logger (maintained, no
dependencies): it JSON-encodes any value, the exception text and the `extra` fields,
which a hand-written Formatter would have to get right again. `GunicornAccessFormatter`
turns gunicorn's access-log record (its atoms are the record's args) into named fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_MAX = 64  # AuditEvent.request_id's length

_request_id: ContextVar[str] = ContextVar("gatehouse_request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    token = _request_id.set(request_id[:REQUEST_ID_MAX])
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if not request_id:
            request_id = getattr(getattr(record, "request", None), "request_id", "")
        record.request_id = request_id
        return True


# Fields every JSON line has, in this order (python-json-logger reads them from the format).
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class GatehouseJsonFormatter(JsonFormatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, request_id,
    plus any `extra` fields. Django attaches the request object to some records: it is not
    data, so it is left out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", JSON_FORMAT)
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("timestamp", False)
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("request", None)
        log_data.pop("server_time", None)
        log_data.setdefault("request_id", getattr(record, "request_id", ""))


# gunicorn access-log atoms -> field names (gunicorn.glogging.Logger.atoms).
_ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "B": "bytes",
    "f": "referer",
    "a": "user_agent",
    "M": "duration_ms",
}


class GunicornAccessFormatter(GatehouseJsonFormatter):
    """gunicorn's access line as JSON: gunicorn passes its atoms dict as the record's args;
    the request id is our X-Request-Id response header (atom `{x-request-id}o`)."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        for atom, field in _ACCESS_ATOMS.items():
            if atom in atoms:
                log_data[field] = atoms[atom]
        for int_field in ("status", "duration_ms"):
            with suppress(KeyError, TypeError, ValueError):
                log_data[int_field] = int(log_data[int_field])
        request_id = atoms.get("{x-request-id}o", "")
        log_data["request_id"] = "" if request_id == "-" else request_id


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for GATEHOUSE_LOG_FORMAT ("plain" or "json")."""
    formatter = (
        {"()": GatehouseJsonFormatter}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "botocore": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
        },
    }
