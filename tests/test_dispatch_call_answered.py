"""When the call was answered: ``call_answered_at`` on POST /incidents, through the real
HTTP API on real PostGIS. A plausible time is kept in ``incident_call`` (in the incident's
own transaction) and shown back; an implausible or malformed one is refused in the error
shape with nothing stored; the planner's call-handling KPI then has live incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import Api, add_unit, assert_error_shape, straight_segments


def _place(engine: Engine) -> dict[str, float]:
    segs = straight_segments(engine)
    seg = segs[len(segs) // 2]
    return {"lon": seg.lon, "lat": seg.lat}


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one()),
            int(conn.execute(text("SELECT count(*) FROM incident_call")).scalar_one()),
        )


def _new(engine: Engine, answered: Any) -> dict[str, Any]:
    return {
        "type": "traffic_accident_damage",
        "location": _place(engine),
        "call_answered_at": answered,
    }


def test_a_plausible_answer_time_is_kept_and_shown(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    answered = datetime.now(UTC) - timedelta(seconds=95)
    # written in Riyadh's offset: the same instant
    local = answered.astimezone(ZoneInfo("Asia/Riyadh")).isoformat(timespec="milliseconds")
    r = api["dispatcher"].post("/incidents", json=_new(riyadh_engine, local))
    assert r.status_code == 201, r.text
    created = r.json()
    shown = datetime.fromisoformat(created["call_answered_at"])
    assert abs((shown - answered).total_seconds()) < 0.001
    assert created["call_answered_at"].endswith("+03:00")
    again = api["planner"].get(f"/incidents/{created['id']}").json()
    assert again["call_answered_at"] == created["call_answered_at"]
    with riyadh_engine.connect() as conn:
        row = conn.execute(
            text("SELECT answered_at, source FROM incident_call WHERE incident_id = :i"),
            {"i": created["id"]},
        ).one()
    assert row.source == "manual"
    assert abs((row.answered_at - answered).total_seconds()) < 0.001
    received = datetime.fromisoformat(created["timestamps"]["received"])
    assert 94 < (received - answered).total_seconds() < 120


def test_without_it_nothing_is_recorded(riyadh_engine: Engine, api: dict[str, Api]) -> None:
    body = {"type": "traffic_accident_damage", "location": _place(riyadh_engine)}
    created = api["dispatcher"].post("/incidents", json=body).json()
    assert created["call_answered_at"] is None
    assert _counts(riyadh_engine)[1] == 0


def test_a_clock_a_little_ahead_counts_as_the_creation(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    ahead = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    r = api["dispatcher"].post("/incidents", json=_new(riyadh_engine, ahead))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["call_answered_at"] == created["timestamps"]["received"]


@pytest.mark.parametrize(
    ("answered", "status", "code"),
    [
        (
            lambda: (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
            422,
            "call_answered_in_future",
        ),
        (
            lambda: (datetime.now(UTC) - timedelta(hours=7)).isoformat(),
            422,
            "call_answered_too_old",
        ),
        (lambda: "yesterday at noon", 400, "invalid_input"),
        (lambda: "2026-13-45T10:00:00+03:00", 400, "invalid_input"),
        (lambda: datetime.now(UTC).replace(tzinfo=None).isoformat(), 400, "invalid_input"),
        (lambda: 1767225600, 400, "invalid_input"),
    ],
    ids=["future", "too-old", "words", "no-such-date", "no-offset", "a-number"],
)
def test_an_implausible_or_malformed_time_is_refused_and_nothing_stored(
    riyadh_engine: Engine, api: dict[str, Api], answered: Any, status: int, code: str
) -> None:
    before = _counts(riyadh_engine)
    r = api["dispatcher"].post("/incidents", json=_new(riyadh_engine, answered()))
    error = assert_error_shape(r, status, code)
    assert error["details"]["field"] == "call_answered_at"
    assert _counts(riyadh_engine) == before


def test_call_handling_kpi_has_live_incidents(riyadh_engine: Engine, api: dict[str, Api]) -> None:
    segs = straight_segments(riyadh_engine)
    near = segs[len(segs) // 3]
    unit = add_unit(riyadh_engine, "TR-CALL", "traffic_patrol", near.lon, near.lat)
    d = api["dispatcher"]
    empty = api["planner"].get("/analytics/kpis").json()
    assert all(row["call_handling_n"] == 0 for row in empty["rows"])

    answered = datetime.now(UTC) - timedelta(seconds=75)
    created = d.post("/incidents", json=_new(riyadh_engine, answered.isoformat())).json()
    iid = created["id"]
    r = d.post(
        f"/incidents/{iid}/assignments",
        json={"units": [{"unit_id": unit, "capability": "traffic"}]},
    )
    assert r.status_code == 201, r.text
    for status in ("en_route", "on_scene"):
        assert d.post(f"/incidents/{iid}/transitions", json={"status": status}).status_code == 200

    body = api["planner"].get("/analytics/kpis").json()
    (row,) = body["rows"]
    assert row["incidents"] == 1 and row["call_handling_n"] == 1
    received = datetime.fromisoformat(created["timestamps"]["received"])
    expected = (received - answered).total_seconds()
    assert row["call_handling_p50"] == pytest.approx(expected, abs=0.01)
    assert 75 <= row["call_handling_p50"] < 100
