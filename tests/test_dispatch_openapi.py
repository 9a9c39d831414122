"""The OpenAPI document describes every /api/v1 route truthfully: schemathesis finds no
500 and no answer breaking the schema (bounded: a few dozen examples per operation)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import clone_database
from dispatch_helpers import Server, add_unit, live_server, straight_segments, token_for
from najda.db.localpg import LocalPostgres
from najda.db.session import make_engine
from najda.dispatch.auth import create_user, issue_token
from najda.web.api.openapi import openapi_document

EXAMPLES = 12
# Described but not fuzzed: the event stream stays open (tests/test_avl_events.py and
# test_dispatch_events.py read it), and each siting call solves an integer program
# (tests/test_analytics_api.py and test_analytics_siting.py cover it, time limit included).
NOT_FUZZED = {("GET", "/events"), ("GET", "/analytics/siting")}
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(pg_cluster: LocalPostgres, riyadh_template: str) -> Iterator[tuple[Server, str]]:
    """One running server over a Riyadh database with units and incidents in it."""
    name = clone_database(pg_cluster, riyadh_template, prefix="fuzz")
    engine = make_engine(url=pg_cluster.url(name))
    segs = straight_segments(engine)
    for i, unit_type in enumerate(("fire_engine", "patrol_car", "ambulance_als", "traffic_patrol")):
        add_unit(engine, f"F-{i}", unit_type, segs[i].lon, segs[i].lat)
    # spare tokens take the low ids, which fuzzed DELETE /auth/tokens/{id} will try
    spare = create_user(engine, username="spare", role="planner", password=None)
    for k in range(5):
        issue_token(engine, user_id=spare.id, name=f"spare-{k}")
    token = token_for(engine, "admin", name="fuzz-admin")
    with live_server(engine) as server:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        for i in range(3):
            api.post(
                server.url + "/incidents",
                json={
                    "type": "building_fire",
                    "location": {"lon": segs[50 + i].lon, "lat": segs[50 + i].lat},
                },
                timeout=30,
            ).raise_for_status()
        yield server, token
    engine.dispose()
    pg_cluster.drop_database(name)


def _fuzz(operation: Any, *, base_url: str, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


def test_api_answers_match_the_document(fuzzed: tuple[Server, str]) -> None:
    # Driven through schemathesis' Python API: its pytest plugin does not load under
    # pytest 9 here. Every operation, positive and negative data, EXAMPLES each.
    server, token = fuzzed
    schema = schemathesis.openapi.from_dict(openapi_document())
    failures = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    described = {(op.method.upper(), op.path) for op in operations}
    assert described >= NOT_FUZZED
    for operation in operations:
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(
                    operation,
                    base_url=server.url,
                    mode=mode,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except Unsatisfiable:  # nothing negative to send (no parameters, no body)
                continue
            except Exception as exc:  # collect every operation's failure, then report
                failures[f"{operation.method.upper()} {operation.path} {mode.value}"] = str(exc)[
                    :1500
                ]
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def _routes(app: Any) -> dict[tuple[str, str], str]:
    """(path in OpenAPI form, method) -> the API module serving it (for the message)."""
    out = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        module = app.view_functions[rule.endpoint].__module__.rsplit(".", 1)[-1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out[(path, method.lower())] = module
    return out


def test_document_is_served_and_describes_the_routes(fuzzed: tuple[Server, str]) -> None:
    server, _ = fuzzed
    doc = requests.get(server.url + "/openapi.json", timeout=30).json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = _routes(server.app)
    undescribed = {route: module for route, module in routes.items() if route not in documented}
    assert undescribed == {}  # every route of every API module, analytics and events too
    assert documented - set(routes) == set()  # nothing described that does not exist
    assert {"/analytics/siting", "/analytics/kpis", "/events"} <= set(doc["paths"])
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
