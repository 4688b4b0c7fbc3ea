"""gunicorn settings for the park (``gunicorn -c deploy/gunicorn.conf.py config.wsgi``).

Every value can be set from the environment; access lines come from the app's own JSON log
(``park.access``), so gunicorn's access log stays off.
"""

import os

bind = os.environ.get(
    "GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Sync workers: on 2 cores they measured steadier than gthread (README, Serving Django).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Request line and headers: refuse oversized ones at the edge.
limit_request_line = 8190
limit_request_fields = 100
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = True  # settings errors stop the start, once, with their message


def post_worker_init(worker):
    """Before a worker takes its first request: its own connections (database, cache, the Slurm
    client and its partition snapshot), which it would otherwise open on that request - about
    half a second under load, once per worker (and again after each max_requests recycle)."""
    from config.warm import warm_worker

    warm_worker()
