"""Running the web application: gunicorn (production, the demo) or Werkzeug (--dev).

``serve`` blocks until interrupted. With ``simulate``, once the server answers
``/health`` it also starts ``najda simulate units`` against it, and stops it on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from najda.config import Settings


def _gunicorn_command(host: str, port: int, workers: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:najda.web.gunicorn_conf"]
    cmd += ["--bind", f"{host}:{port}"]
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


def _wait_healthy(url: str, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    # the child processes must see the same database and data as this command
    from najda.db.session import database_url

    env["DATABASE_URL"] = database_url(settings)
    env["NAJDA_DATA_DIR"] = str(settings.data_dir)
    env["NAJDA_HOME"] = str(settings.home)
    return env


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    dev: bool = False,
    workers: int | None = None,
    simulate: int = 0,
    simulate_region: str = "riyadh",
) -> None:
    """Serve until Ctrl+C (or SIGTERM)."""
    url = f"http://{host}:{port}"
    env = _environment(settings)
    if dev:
        cmd = [
            sys.executable,
            "-c",
            "from najda.web import create_app; "
            f"create_app().run(host={host!r}, port={port}, threaded=True)",
        ]
    else:
        cmd = _gunicorn_command(host, port, workers)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # so children are stopped too
    server = subprocess.Popen(cmd, env=env, cwd=str(Path.cwd()))
    children = [server]
    try:
        if not _wait_healthy(url):
            raise SystemExit(f"the server did not become healthy at {url}/health")
        print(f"\nNajda is serving at {url}/  (console: {url}/console, Ctrl+C to stop)", flush=True)
        if simulate:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "najda.cli",
                        "simulate",
                        "units",
                        "--url",
                        url,
                        "--count",
                        str(simulate),
                        "--region",
                        simulate_region,
                    ],
                    env=env,
                )
            )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
