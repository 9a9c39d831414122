"""Live events across processes: PostgreSQL ``NOTIFY`` out, ``LISTEN`` in, fanned out in-process.

Publishing is part of the caller's transaction: :func:`publish` issues
``SELECT pg_notify('najda_events', ...)`` on the caller's SQLAlchemy connection, so the
event is delivered when (and only if) that transaction commits. Every process that wants
events (each gunicorn worker serving Server-Sent Events) runs one :class:`EventHub`: a
background thread holding a dedicated psycopg connection that ``LISTEN``\\ s and copies each
event to every in-process :class:`Subscription`. Nothing here knows of Flask.

An event on the wire is a JSON object ``{"kind": str, "payload": dict, "at": iso8601}``.
Kinds in use: ``unit.position``, ``unit.status``, ``unit.updated``, ``incident.created``,
``incident.updated``, ``assignment.created``, ``assignment.released``,
``catalogue.reloaded`` (publishers may add others; the dispatch core's payloads are
described in :mod:`najda.dispatch.incidents`, the admin's in :mod:`najda.dispatch.admin`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

CHANNEL = "najda_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7900


@dataclass(frozen=True)
class Event:
    kind: str
    payload: dict[str, Any]
    at: str

    def to_json(self) -> str:
        return json.dumps(
            {"kind": self.kind, "payload": self.payload, "at": self.at},
            ensure_ascii=False,
            default=str,
            separators=(",", ":"),
        )


def message(kind: str, payload: dict[str, Any]) -> str:
    """The NOTIFY text of an event (for publishers that fold ``pg_notify`` into SQL)."""
    event = Event(kind, payload, datetime.now(UTC).isoformat())
    encoded = event.to_json()
    if len(encoded.encode()) <= MAX_PAYLOAD_BYTES:
        return encoded
    # Too big for NOTIFY: send the identifiers only; clients re-read what they need.
    log.warning(
        "event %s too large for NOTIFY (%d bytes); sending ids only", kind, len(encoded.encode())
    )
    slim = {k: v for k, v in payload.items() if k == "id" or k.endswith("_id")}
    return Event(kind, {**slim, "truncated": True}, event.at).to_json()


def publish(conn: Connection, kind: str, payload: dict[str, Any]) -> None:
    """Queue an event on ``conn``'s transaction; it is delivered on commit."""
    conn.execute(
        text("SELECT pg_notify(:channel, :message)"),
        {"channel": CHANNEL, "message": message(kind, payload)},
    )


def decode(message: str) -> Event | None:
    """The event carried by a notification, or None when it is not one of ours."""
    try:
        raw = json.loads(message)
    except ValueError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        return None
    payload = raw.get("payload")
    return Event(raw["kind"], payload if isinstance(payload, dict) else {}, str(raw.get("at")))


class Subscription:
    """One consumer's bounded queue of events. When the consumer falls behind, the oldest
    events are dropped (a live map wants the newest positions, not a backlog)."""

    def __init__(self, hub: EventHub, *, kinds: frozenset[str] | None, maxsize: int) -> None:
        self._hub = hub
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=maxsize)
        self.kinds = kinds
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.kinds is not None and event.kind not in self.kinds:
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ConnectFn = Callable[[], Any]


def connector_for(engine: Engine) -> ConnectFn:
    """A function opening a new autocommit psycopg connection to ``engine``'s database."""

    def connect() -> Any:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        conn = engine.dialect.loaded_dbapi.connect(*args, **kwargs)
        conn.autocommit = True
        return conn

    return connect


class EventHub:
    """LISTENs on a dedicated connection in a daemon thread; fans events out to subscribers.

    Start it lazily with :meth:`ensure_started` (safe after a gunicorn fork: the thread is
    started in the worker that first needs it). It reconnects after a lost connection.
    """

    def __init__(self, connect: ConnectFn, *, poll_s: float = 1.0) -> None:
        self._connect = connect
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()

    @classmethod
    def for_engine(cls, engine: Engine) -> EventHub:
        return cls(connector_for(engine))

    def ensure_started(self, *, wait_s: float = 5.0) -> None:
        """Start the listener thread once; wait until it LISTENs (or ``wait_s`` passes)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="najda-events", daemon=True)
                self._thread.start()
        self._listening.wait(wait_s)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def running(self) -> bool:
        """Whether the listener thread is alive (listening or reconnecting)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self._poll_s * 3)

    def subscribe(
        self, *, kinds: frozenset[str] | None = None, maxsize: int = 1000
    ) -> Subscription:
        sub = Subscription(self, kinds=kinds, maxsize=maxsize)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def dispatch(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.offer(event)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._listen_once()
                backoff = 0.5
            except Exception:  # a lost connection must not end live updates for good
                log.exception("event listener lost its connection; reconnecting")
                self._listening.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _listen_once(self) -> None:
        conn = self._connect()
        try:
            conn.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=self._poll_s, stop_after=500):
                    event = decode(note.payload)
                    if event is not None:
                        self.dispatch(event)
        finally:
            self._listening.clear()
            conn.close()
