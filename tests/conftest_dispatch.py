"""Fixtures of the dispatch, AVL and console tests (loaded by conftest.py as a plugin).

``server`` is the real app behind a real HTTP server over the imported Riyadh region
(``riyadh_engine``); ``api`` holds one API client per role. A test module over the empty
schema (``engine``) defines its own ``server``, which takes precedence here. ``browser``
is Debian's Chromium driven by Playwright, one per test module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from dispatch_helpers import Api, Server, clients, live_server


@pytest.fixture
def server(riyadh_engine: Engine) -> Iterator[Server]:
    with live_server(riyadh_engine) as s:
        yield s


@pytest.fixture
def api(riyadh_engine: Engine, server: Server) -> dict[str, Api]:
    """One client per role (dispatcher, supervisor, planner, admin), each with a token."""
    return clients(riyadh_engine, server.url)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
