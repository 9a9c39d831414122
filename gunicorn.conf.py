"""gunicorn settings for serving Najda in production and in the demo.

    gunicorn -c gunicorn.conf.py            # binds 127.0.0.1:8000

Environment: ``NAJDA_BIND`` (host:port), ``NAJDA_WORKERS`` (default 2 x cores),
``NAJDA_THREADS`` (per worker, default 8), plus the usual ``DATABASE_URL`` / ``NAJDA_*``
settings that ``create_app`` reads. Threaded workers (``gthread``) because every open
Server-Sent Events stream (``/api/v1/events``) holds one thread for its lifetime; each
worker process builds its own app and engine (no preloading: a database pool must not
cross a fork) and LISTENs for live events on its own connection.
"""

import multiprocessing
import os

wsgi_app = "najda.web:create_app()"
bind = os.environ.get("NAJDA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("NAJDA_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("NAJDA_THREADS", 8))
timeout = 60
graceful_timeout = 10
keepalive = 30
accesslog = os.environ.get("NAJDA_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("NAJDA_LOG_LEVEL", "info")
proc_name = "najda"
# gunicorn >= 25 opens a control socket at one fixed path per user; two servers on one
# machine (the demo and a benchmark) would fight over it, and Najda does not use it.
control_socket_disable = True
