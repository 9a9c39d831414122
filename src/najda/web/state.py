"""What one application owns: its settings and its one engine (in ``app.extensions``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

from najda.config import Settings


@dataclass(frozen=True)
class WebState:
    settings: Settings
    engine: Engine


def web_state() -> WebState:
    state: WebState = current_app.extensions["najda"]
    return state


def engine() -> Engine:
    """The application's engine (one per app, made by ``create_app``)."""
    return web_state().engine
