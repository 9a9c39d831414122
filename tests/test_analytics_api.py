"""The analytics API over real HTTP (a running server) on real PostGIS, with a generated
history: JSON agrees with the domain computed directly, CSV and GeoJSON downloads agree
with the JSON, errors use the one error shape."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import Api, assert_error_shape, live_server, token_for
from najda.analytics.history import simulate_history
from najda.analytics.service import Planner
from najda.dispatch.seed import seed_demo


@pytest.fixture
def api(riyadh_engine: Engine) -> Iterator[tuple[Api, Engine]]:
    seed_demo(riyadh_engine, region="riyadh")
    simulate_history(
        riyadh_engine, months=0.25, per_day=6, seed=5, end=datetime(2026, 9, 1, tzinfo=UTC)
    )
    with live_server(riyadh_engine) as server:
        yield Api(server.url, token_for(riyadh_engine, "planner")), riyadh_engine


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_coverage_json_csv_geojson_agree(api: tuple[Api, Engine]) -> None:
    client, engine = api
    body = client.get("/analytics/coverage?thresholds=2,4").json()
    direct = Planner(engine, "riyadh").coverage(thresholds_min=(2, 4), resolution=8)
    assert body["totals"] == pytest.approx(direct.totals())
    # every share comes with its denominator, and is a share of it
    assert set(body["denominators"]) == {"pct", "pct_placed", "pct_on_network"}
    tot = body["totals"]
    for base, key in (
        ("population", "pct"),
        ("placed", "pct_placed"),
        ("on_network", "pct_on_network"),
    ):
        assert tot[f"{key}_4min"] == pytest.approx(100 * tot["covered_4min"] / tot[base], abs=1e-3)
    assert len(body["governorates"]) == 20 and len(body["sources_used"]) >= 2
    rows = _csv(client.get("/analytics/coverage?thresholds=2,4&format=csv"))
    assert [float(r["covered_4min"]) for r in rows] == pytest.approx(
        [g["covered_4min"] for g in body["governorates"]]
    )
    areas = client.get("/analytics/coverage?thresholds=2,4&format=geojson")
    assert areas.headers["Content-Type"].startswith("application/geo+json")
    assert [f["properties"]["threshold_min"] for f in areas.json()["features"]] == [4, 2]


def test_gaps_and_heatmaps(api: tuple[Api, Engine]) -> None:
    client, engine = api
    gaps = client.get("/analytics/gaps?threshold=2&format=geojson").json()
    rows = _csv(client.get("/analytics/gaps?threshold=2&format=csv"))
    assert len(rows) == len(gaps["features"]) > 0
    summary = client.get("/analytics/coverage?thresholds=2").json()["totals"]
    assert sum(float(r["population"]) for r in rows) == pytest.approx(
        summary["placed"] - summary["covered_2min"], rel=1e-6
    )
    modelled = client.get("/analytics/heatmap?kind=modelled&format=geojson").json()
    assert modelled["features"] and all(
        f["properties"]["time_s"] >= 0 for f in modelled["features"]
    )
    measured = client.get("/analytics/heatmap?kind=measured").json()["cells"]
    with engine.connect() as conn:
        closed = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE status = 'closed' AND on_scene_at IS NOT NULL"
            )
        ).scalar_one()
    assert sum(c["incidents"] for c in measured) == closed > 0


def test_kpis_with_targets_and_csv(api: tuple[Api, Engine]) -> None:
    client, _ = api
    body = client.get("/analytics/kpis?by=agency&target_travel=180").json()
    assert body["targets"] == {"travel": 180.0}
    assert sum(r["incidents"] for r in body["rows"]) == body["incidents"] > 0
    assert all(0 <= r["travel_within"] <= 1 for r in body["rows"])
    assert {s["code"] for s in body["standards"]} == {"nfpa1710_travel", "ems_urban_response"}
    rows = _csv(client.get("/analytics/kpis?by=agency&format=csv"))
    assert [r["agency"] for r in rows] == [r["agency"] for r in body["rows"]]


def test_siting_before_and_after(api: tuple[Api, Engine]) -> None:
    client, _ = api
    body = client.get("/analytics/siting?model=mclp&add=2&threshold=2").json()
    assert body["status"] == "Optimal" and body["added"] == body["requested"] == 2
    assert body["exact"] and body["reduction"]["candidates"] > 800  # every road node
    assert body["covered_after"] > body["covered_before"]
    assert [s["rank"] for s in body["new_sites"]] == [1, 2]
    assert sum(s["gain"] for s in body["new_sites"]) == pytest.approx(body["gain"])
    assert body["pct_placed_after"] == pytest.approx(
        100 * body["covered_after"] / body["placed"], abs=1e-3
    )
    gained = sum(c["population"] for c in body["cells"] if c["state"] == "gained")
    assert gained == pytest.approx(body["gain"], rel=1e-6)
    geo = client.get("/analytics/siting?model=mclp&add=2&threshold=2&format=geojson").json()
    assert sum(f["properties"].get("kind") == "new_site" for f in geo["features"]) == 2
    sites = _csv(client.get("/analytics/siting?model=mclp&add=2&threshold=2&format=csv"))
    assert {int(s["road_node_id"]) for s in sites} == {s["road_node_id"] for s in body["new_sites"]}
    lscp = client.get("/analytics/siting?model=lscp&threshold=2").json()
    assert lscp["covered_after"] == pytest.approx(lscp["on_network"] - lscp["uncoverable"])


def test_errors_use_the_one_shape(api: tuple[Api, Engine]) -> None:
    client, _ = api
    assert_error_shape(client.get("/analytics/coverage?format=xml"), 400)
    assert_error_shape(client.get("/analytics/coverage?thresholds=4,abc"), 400)
    assert_error_shape(client.get("/analytics/coverage?agency=navy"), 400)
    assert_error_shape(client.get("/analytics/kpis?by=weekday"), 400)
    assert_error_shape(client.get("/analytics/kpis?format=geojson"), 400)
    assert_error_shape(client.get("/analytics/siting?add=0"), 400)
    error = assert_error_shape(client.get("/analytics/siting?candidate_resolution=11"), 400)
    assert error["details"]["parameter"] == "candidate_resolution"
    anonymous = Api(client.base, None)
    assert_error_shape(anonymous.get("/analytics/coverage"), 401)
