"""gunicorn settings for serving Najda (``najda serve``, the demo, benchmarks).

    gunicorn -c python:najda.web.gunicorn_conf      # or -c gunicorn.conf.py in a checkout

Environment: ``NAJDA_BIND`` (host:port, default 127.0.0.1:8000), ``NAJDA_WORKERS``
(default 2 x cores), ``NAJDA_THREADS`` (per worker, default 8), ``NAJDA_PRELOAD``
(default 1), plus the usual ``DATABASE_URL`` / ``NAJDA_*`` settings ``create_app`` reads.

Threaded workers (``gthread``) because every open Server-Sent Events stream
(``/api/v1/events``) holds one thread for its lifetime. The app is built once in the
master (``preload_app``), which then warms it (:func:`najda.web.warm.warm_app`: compiled
kernels, every region's road graph, search arrays, snapping index) before forking the
workers: they start ready and share those pages. Each worker drops the master's database
pool right after the fork and opens its own connections; each LISTENs for live events
on its own connection, started on first use.
"""

import multiprocessing
import os
from typing import Any

wsgi_app = "najda.web:create_app()"
bind = os.environ.get("NAJDA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("NAJDA_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("NAJDA_THREADS", 8))
preload_app = os.environ.get("NAJDA_PRELOAD", "1").lower() not in {"0", "false", "no", "off"}
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


def when_ready(server: Any) -> None:
    """In the master, before the workers exist: warm the preloaded app, then freeze."""
    if not server.cfg.preload_app:
        return
    from najda.web.warm import freeze_for_fork, warm_app

    report = warm_app(server.app.wsgi())
    regions = ", ".join(
        f"{code} ({r['nodes']:,} nodes, {r['edges']:,} edges)" for code, r in report.regions.items()
    )
    server.log.info(
        "warmed in %.2f s (compiled code %.2f s): %s%s",
        report.seconds,
        report.compile_seconds,
        regions or "no road graph yet",
        f"; {report.error}" if report.error else "",
    )
    freeze_for_fork()


def post_fork(server: Any, worker: Any) -> None:
    if server.cfg.preload_app:
        from najda.web.warm import after_fork

        after_fork(worker.app.wsgi())
