"""gunicorn settings for Gatehouse behind the ALB: `gunicorn -c gunicorn.conf.py adminsite.wsgi`.

Every value can be changed from the environment; the defaults suit one small EC2 target.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads per worker (gthread when more than one). A change waits, idle, for the WAF sync
# round that covers it (group commit, accesscontrol.sync): with one thread, a worker that
# waits serves no one else, not even the ALB's health check or a label edit.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# The ALB keeps idle connections for 60 s; stay open a little longer so it closes first.
keepalive = 65
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn 23+ may open a control socket in the home directory; the service user has none.
control_socket_disable = True

# --- Operations (issue 17): metrics listener and JSON logs -----------------------------------
# GATEHOUSE_METRICS_BIND (e.g. "0.0.0.0:9464"): a second listener that answers only
# GET /metrics (api.wsgi.with_metrics). Open it to the scraper's security group only; the
# ALB's target group forwards to the first bind alone.
metrics_bind = os.environ.get("GATEHOUSE_METRICS_BIND", "")
if metrics_bind:
    bind = [bind, metrics_bind]
    # prometheus-client's multiprocess mode: each worker writes its counters to files here
    # and any worker's scrape adds them all up. Set before a worker imports the client.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gatehouse-metrics-")


def on_starting(server):  # noqa: ARG001  (gunicorn's hook signature)
    """A restart starts counting from zero: files of a previous master's workers go."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if metrics_bind and directory and os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):  # noqa: ARG001
    """A dead worker's live gauges stop counting (its counters stay in the sum)."""
    if metrics_bind and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# GATEHOUSE_LOG_FORMAT=json: gunicorn's own lines and its access log as one JSON object per
# line too (accesscontrol.requestlog), the access line with the X-Request-Id it answered.
if os.environ.get("GATEHOUSE_LOG_FORMAT", "plain") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "accesscontrol.requestlog.GatehouseJsonFormatter"},
            "access_json": {"()": "accesscontrol.requestlog.GunicornAccessFormatter"},
        },
        "filters": {"request_id": {"()": "accesscontrol.requestlog.RequestIdFilter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "access_json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["error_console"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
        "root": {"level": "INFO", "handlers": []},
    }
