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
