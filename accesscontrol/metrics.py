"""Prometheus metrics (prometheus-client, the project's official Python client).

Two kinds, because gunicorn runs several worker processes per instance:
- Events counted where they happen (HTTP request latency, WAF calls and errors by
  operation, syncs by result): counters and a histogram in this process. When
  PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py does it for the metrics listener),
  prometheus-client writes them to per-process files in that directory and the
  exposition adds up every worker's files, so a scrape sees the whole instance, whichever
  worker answers it.
- Facts the database holds (networks by status and IP version, sync state, seconds since
  the last successful sync per set): read at scrape time by `DatabaseCollector`, two
  queries, the same on every instance and always current (the scheduled sync's results
  show here although it runs in another process).

Invariant: recording a metric never raises into the code being measured and never
touches the database; only the exposition reads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import DatabaseError, close_old_connections
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUEST_SECONDS = Histogram(
    "gatehouse_http_request_duration_seconds",
    "Time to answer an HTTP request in Django, by route name, method and status code.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WAF_CALLS = Counter(
    "gatehouse_waf_calls_total",
    "wafv2 API calls made by the app (accesscontrol.waf), by operation.",
    ["operation"],
)
WAF_ERRORS = Counter(
    "gatehouse_waf_errors_total",
    "wafv2 API calls that failed, by operation and AWS error code.",
    ["operation", "code"],
)
SYNCS = Counter(
    "gatehouse_syncs_total",
    "IP-set syncs run by this process (not dry runs), by IP version and result "
    "(in_sync, pending, failed).",
    ["ip_version", "result"],
)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (two queries)."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self._now = now

    def collect(self) -> Iterable[Metric]:
        from accesscontrol.models import AllowedNetwork, IpSetSyncState

        now = self._now or timezone.now()
        up = GaugeMetricFamily(
            "gatehouse_database_up", "1 when the scrape could read the database, else 0."
        )
        networks = GaugeMetricFamily(
            "gatehouse_networks",
            "Allowed networks by status (active, expired) and IP version.",
            labels=["status", "ip_version"],
        )
        state = GaugeMetricFamily(
            "gatehouse_sync_state",
            "1 for the IP set's current sync status (in_sync, pending, failed), else 0.",
            labels=["ip_version", "status"],
        )
        since = GaugeMetricFamily(
            "gatehouse_seconds_since_last_sync",
            "Seconds since the IP set last synced successfully (absent: never).",
            labels=["ip_version"],
        )
        try:
            active = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            counts = AllowedNetwork.objects.values("ip_version").annotate(
                active=Count("id", filter=active), expired=Count("id", filter=~active)
            )
            per_version: dict[int, dict[str, Any]] = {
                row["ip_version"]: dict(row) for row in counts
            }
            states = list(IpSetSyncState.objects.only("ip_version", "status", "last_synced_at"))
        except DatabaseError:
            log.warning("metrics: the database could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for version in (4, 6):
            row = per_version.get(version, {})
            for status in ("active", "expired"):
                networks.add_metric([status, str(version)], float(row.get(status, 0)))
        for sync_state in states:
            for status in IpSetSyncState.Status.values:
                state.add_metric(
                    [str(sync_state.ip_version), status], int(sync_state.status == status)
                )
            if sync_state.last_synced_at is not None:
                age = (now - sync_state.last_synced_at).total_seconds()
                since.add_metric([str(sync_state.ip_version)], max(age, 0.0))
        yield from (up, networks, state, since)


class _ProcessCollector(Collector):
    """This process's own metrics (the default registry) when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(*, now: datetime | None = None) -> bytes:
    """The Prometheus text exposition: this instance's event metrics plus the database's
    gauges. Closes stale database connections around the read (it runs outside Django's
    request cycle, which would otherwise do it)."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector(now=now))
    close_old_connections()
    try:
        return generate_latest(registry)
    finally:
        close_old_connections()


def waf_call(operation: str) -> None:
    WAF_CALLS.labels(operation=operation).inc()


def waf_error(operation: str, code: str) -> None:
    WAF_ERRORS.labels(operation=operation, code=code).inc()


def sync_result(ip_version: int, result: str) -> None:
    SYNCS.labels(ip_version=str(ip_version), result=result).inc()


def request_answered(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route=route, method=method, status=str(status)).observe(seconds)
