"""Live updates for the map: ``GET /api/v1/events`` as Server-Sent Events.

Every event published with :func:`najda.events.publish` (or folded into SQL, as the AVL
ingestion does) in any process reaches every connected browser: each worker process
runs one :class:`najda.events.EventHub` LISTENing on PostgreSQL, started on the first
connection. Each SSE message is::

    id: <n>
    event: unit.position            (the event's kind)
    data: {"kind": ..., "payload": {...}, "at": ...}

with a comment line (``: heartbeat``) every ``NAJDA_SSE_HEARTBEAT_S`` seconds (15) so
proxies keep the stream open and clients notice a dead one. A stream ends after
``NAJDA_SSE_MAX_S`` seconds (300); ``EventSource`` reconnects by itself (``retry``).
``?kinds=unit.position,unit.status`` limits the kinds sent. Needs the read permission
(the browser's session cookie is enough). Under gunicorn use threaded workers
(``gthread``): each open stream holds a thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request, stream_with_context

from najda.errors import InvalidInput, Unavailable
from najda.events import EventHub, Subscription
from najda.web.api import bp
from najda.web.api import openapi as doc
from najda.web.api.auth import authorized
from najda.web.state import engine

_KEY = "najda.events.hub"
_LOCK = threading.Lock()
RETRY_MS = 3000


def event_hub(app: Flask | None = None) -> EventHub:
    """This process's hub for the application, started on first use."""
    app = app or current_app
    with _LOCK:
        hub = app.extensions.get(_KEY)
        if hub is None:
            hub = app.extensions[_KEY] = EventHub.for_engine(engine())
    hub.ensure_started()
    return hub


def stop_event_hub(app: Flask) -> None:
    """Stop the application's listener thread, if it was started (before the database goes
    away; a later stream starts it again)."""
    with _LOCK:
        hub = app.extensions.get(_KEY)
    if hub is not None:
        hub.stop()


def _kinds(raw: str | None) -> frozenset[str] | None:
    if raw is None or not raw.strip():
        return None
    kinds = frozenset(k.strip() for k in raw.split(",") if k.strip())
    if len(kinds) > 20 or any(len(k) > 50 for k in kinds):
        raise InvalidInput("kinds is a short comma-separated list", details={"parameter": "kinds"})
    return kinds


def _stream(sub: Subscription, *, heartbeat_s: float, max_s: float) -> Iterator[str]:
    deadline = time.monotonic() + max_s
    counter = itertools.count(1)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while (left := deadline - time.monotonic()) > 0:
            event = sub.get(timeout=min(heartbeat_s, left))
            if event is None:
                yield ": heartbeat\n\n"
                continue
            yield f"id: {next(counter)}\nevent: {event.kind}\ndata: {event.to_json()}\n\n"
    finally:
        sub.close()


@bp.get("/events")
def events_stream() -> Response:
    authorized("read")
    kinds = _kinds(request.args.get("kinds"))
    hub = event_hub()
    if not hub.listening:
        raise Unavailable("live updates are not available right now; try again")
    # subscribe before answering, so nothing published after the headers is missed
    sub = hub.subscribe(kinds=kinds)
    config = current_app.config
    body = _stream(
        sub,
        heartbeat_s=float(config.get("NAJDA_SSE_HEARTBEAT_S", 15.0)),
        max_s=float(config.get("NAJDA_SSE_MAX_S", 300.0)),
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def openapi_paths() -> dict[str, Any]:
    """This module's part of the OpenAPI document (called by :mod:`.openapi`).

    A stream that stays open is no call a fuzzer can check; the schemathesis test leaves
    it out and the tests of this module cover it."""
    return {
        "/events": {
            "get": doc.operation(
                "Live updates as Server-Sent Events (heartbeats, reconnecting)",
                {
                    **doc.ok(
                        {"type": "string", "description": "id/event/data messages"},
                        media="text/event-stream",
                    ),
                    **doc.error_answers("400", "401", "403", "503"),
                },
                tag="events",
                params=[doc.query("kinds", doc.STR, "comma-separated event kinds")],
            )
        }
    }
