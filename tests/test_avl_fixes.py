"""Parsing and checking fixes: the pure rules under the AVL endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from najda.avl.fixes import MAX_CLOCK_SKEW_S, Fix, Refusal, check_fix, parse_time
from najda.avl.osmand import parse_json, parse_query
from najda.errors import InvalidInput

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        1795420800,
        "1795420800",
        1795420800000,
        "1795420800000",
        "2026-11-23T08:00:00Z",
        "2026-11-23T11:00:00+03:00",
        "2026-11-23 08:00:00",
        1795420800.0,
    ],
)
def test_time_in_seconds_milliseconds_or_iso(raw: object) -> None:
    assert parse_time(raw) == NOW


@pytest.mark.parametrize("raw", [None, "", "soon", -5, True, float("nan")])
def test_unreadable_times_are_invalid_input(raw: object) -> None:
    with pytest.raises(InvalidInput):
        parse_time(raw)


def test_clock_skew_allowance_and_refusals() -> None:
    ok = Fix(time=NOW + timedelta(seconds=MAX_CLOCK_SKEW_S - 1), lat=24.7, lon=46.6)
    assert check_fix(ok, now=NOW) == ok
    late = Fix(time=NOW + timedelta(seconds=MAX_CLOCK_SKEW_S + 1), lat=24.7, lon=46.6)
    assert check_fix(late, now=NOW) == Refusal("future_fix", check_fix(late, now=NOW).message)
    ancient = Fix(time=NOW - timedelta(days=400), lat=24.7, lon=46.6)
    assert isinstance(check_fix(ancient, now=NOW), Refusal)


def test_negative_auxiliary_values_mean_unknown() -> None:
    fix = Fix(time=NOW, lat=24.7, lon=46.6, speed=-1, heading=-1, accuracy=-1, battery=-1)
    assert check_fix(fix, now=NOW) == Fix(time=NOW, lat=24.7, lon=46.6)


def test_osmand_query_without_time_is_now_and_without_position_is_no_fix() -> None:
    report = parse_query({"id": "dev-1", "lat": "24.7", "lon": "46.6", "speed": "10"}, now=NOW)
    (fix,) = report.fixes
    assert isinstance(fix, Fix) and fix.time == NOW and fix.speed == pytest.approx(5.1444, 1e-4)
    (nothing,) = parse_query({"deviceid": "dev-1"}, now=NOW).fixes
    assert nothing == Refusal("no_fix", "the report carries no position")
    (invalid,) = parse_query({"id": "d", "lat": "1", "lon": "2", "valid": "false"}, now=NOW).fixes
    assert isinstance(invalid, Refusal)


def test_traccar_json_batch_and_units() -> None:
    loc = {
        "timestamp": "2026-11-23T08:00:00.000Z",
        "coords": {
            "latitude": 24.7,
            "longitude": 46.6,
            "speed": 2.5,
            "heading": 180,
            "accuracy": 4,
            "altitude": 600,
        },
        "battery": {"level": 0.5, "is_charging": True},
    }
    report = parse_json({"device_id": "dev-9", "location": [loc, {**loc, "coords": None}]})
    assert report.device_id == "dev-9"
    first, second = report.fixes
    assert first == Fix(
        time=NOW, lat=24.7, lon=46.6, speed=2.5, heading=180, accuracy=4, altitude=600, battery=50.0
    )
    assert isinstance(second, Refusal)
    with pytest.raises(InvalidInput):
        parse_json({"location": loc})
