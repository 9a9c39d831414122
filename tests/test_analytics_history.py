"""The history generator and the KPIs it feeds, on real PostGIS.

KPIs are checked against PostgreSQL's own ``percentile_cont`` (linear interpolation, as
numpy's default) over the same incidents' timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from najda.analytics import kpi
from najda.analytics.history import simulate_history
from najda.dispatch.seed import seed_demo
from najda.routing.graph import load_graph

END = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def history_engine(riyadh_engine: Engine) -> Engine:
    seed_demo(riyadh_engine, region="riyadh")
    report = simulate_history(
        riyadh_engine,
        months=0.5,
        per_day=8,
        seed=3,
        end=END,
        graph=load_graph(riyadh_engine, "riyadh"),
    )
    assert report.incidents > 60 and report.skipped_unfilled == 0
    assert {"traffic", "medical", "security"} <= set(report.by_category)
    return riyadh_engine


def test_history_is_closed_ordered_and_dispatched_by_eta(history_engine: Engine) -> None:
    with history_engine.connect() as conn:
        bad_order = conn.execute(
            text("""
            SELECT count(*) FROM incident i JOIN incident_call c ON c.incident_id = i.id
            WHERE NOT (c.answered_at <= i.received_at AND i.received_at <= i.dispatched_at
                   AND i.dispatched_at <= i.en_route_at AND i.en_route_at <= i.on_scene_at
                   AND i.on_scene_at <= i.cleared_at AND i.cleared_at <= i.closed_at)
               OR i.status <> 'closed' OR i.received_at >= :end"""),
            {"end": END},
        ).scalar()
        assert bad_order == 0
        # every plan requirement was filled with a unit carrying the capability
        wrong = conn.execute(
            text("""
            SELECT count(*) FROM assignment a JOIN unit u ON u.id = a.unit_id
            JOIN unit_type t ON t.id = u.unit_type_id
            WHERE NOT (a.capability = ANY(t.capabilities)) OR a.released_at IS NULL
               OR a.eta_s IS NULL OR a.eta_s < 0""")
        ).scalar()
        assert wrong == 0
        # no unit is ever on two incidents at once
        overlap = conn.execute(
            text("""
            SELECT count(*) FROM assignment a JOIN assignment b
            ON a.unit_id = b.unit_id AND a.id < b.id
            AND a.assigned_at < b.released_at AND b.assigned_at < a.released_at""")
        ).scalar()
        assert overlap == 0
        kinds = conn.execute(
            text("""SELECT kind, count(*) FROM incident_event
            GROUP BY kind""")
        ).all()
    counts = dict(kinds)
    assert counts["created"] * 5 == counts["transition"]
    assert counts["unit_assigned"] >= counts["created"]


@pytest.mark.parametrize(
    "stage,expr",
    [
        ("travel", "extract(epoch FROM i.on_scene_at - i.en_route_at)"),
        ("response", "extract(epoch FROM i.on_scene_at - c.answered_at)"),
        ("call_handling", "extract(epoch FROM i.received_at - c.answered_at)"),
    ],
)
def test_kpis_agree_with_postgresql_percentiles(
    history_engine: Engine, stage: str, expr: str
) -> None:
    report = kpi.kpis(
        kpi.load_history(history_engine, "riyadh"), by="priority", targets={stage: 200.0}
    )
    with history_engine.connect() as conn:
        rows = conn.execute(
            text(f"""
            SELECT i.priority, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY {expr}),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY {expr}),
                   avg(CASE WHEN {expr} <= 200 THEN 1.0 ELSE 0.0 END)
            FROM incident i JOIN incident_call c ON c.incident_id = i.id
            GROUP BY i.priority ORDER BY i.priority""")
        ).all()
    ours = {r["priority"]: r for r in report.rows}
    assert sorted(ours) == [r[0] for r in rows]
    for priority, n, p50, p90, within in rows:
        row = ours[priority]
        assert row["incidents"] == n
        assert row[f"{stage}_p50"] == pytest.approx(float(p50), abs=2e-3)
        assert row[f"{stage}_p90"] == pytest.approx(float(p90), abs=2e-3)
        assert row[f"{stage}_within"] == pytest.approx(float(within))


def test_standards_and_dimensions(history_engine: Engine) -> None:
    frame = kpi.load_history(history_engine, "riyadh")
    by_agency = kpi.kpis(frame, by="agency")
    assert sum(r["incidents"] for r in by_agency.rows) == len(frame)
    assert {"police", "red_crescent"} <= {r["agency"] for r in by_agency.rows}
    nfpa, ems = by_agency.standards
    assert nfpa["target_s"] == 240 and ems["target_s"] == 539
    fire = frame[frame["agency"] == "civil_defence"]["travel"]
    assert nfpa["incidents"] == fire.notna().sum()
    assert nfpa["within"] == pytest.approx(float((fire <= 240).mean()))
    assert nfpa["meets"] == (nfpa["within"] >= 0.9)
    hours = kpi.kpis(frame, by="hour").rows
    assert all(0 <= r["hour"] <= 23 for r in hours)
    with pytest.raises(Exception, match="unknown KPI dimension"):
        kpi.kpis(frame, by="weekday")
