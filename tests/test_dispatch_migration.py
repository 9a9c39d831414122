"""Migration 0005 gives existing assignments their units' times from the incident."""

from __future__ import annotations

from sqlalchemy import Engine, text

from dispatch_helpers import add_unit
from najda.db.migrate import current_revision, downgrade, upgrade


def test_progress_is_backfilled_for_units_that_held_the_incident(riyadh_engine: Engine) -> None:
    head = current_revision(riyadh_engine)
    downgrade(riyadh_engine, "0004")
    early, late = (add_unit(riyadh_engine, cs, "patrol_car") for cs in ("M-1", "M-2"))
    with riyadh_engine.begin() as conn:
        incident = conn.execute(
            text("""
            INSERT INTO incident (number, region_id, incident_type_id, priority, status, geom,
                                  received_at, dispatched_at, en_route_at, on_scene_at)
            SELECT 'T-1', r.id, t.id, 3, 'on_scene',
                   ST_SetSRID(ST_MakePoint(46.65, 24.74), 4326), '2026-01-01 10:00Z',
                   '2026-01-01 10:01Z', '2026-01-01 10:03Z', '2026-01-01 10:09Z'
            FROM region r, incident_type t WHERE r.code = 'riyadh' AND t.code = 'gas_leak'
            RETURNING id""")
        ).scalar_one()
        # one unit there all along; one sent after the incident was already en route
        for unit, at in ((early, "2026-01-01 10:01Z"), (late, "2026-01-01 10:05Z")):
            conn.execute(
                text("""INSERT INTO assignment (incident_id, unit_id, assigned_at)
                                 VALUES (:i, :u, :at)"""),
                {"i": incident, "u": unit, "at": at},
            )
    upgrade(riyadh_engine)
    assert current_revision(riyadh_engine) == head
    with riyadh_engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT a.unit_id, to_char(p.en_route_at AT TIME ZONE 'UTC', 'HH24:MI'),
                   to_char(p.on_scene_at AT TIME ZONE 'UTC', 'HH24:MI')
            FROM assignment a JOIN assignment_progress p ON p.assignment_id = a.id
            ORDER BY a.unit_id""")
        ).all()
    assert [tuple(r) for r in rows] == [(early, "10:03", "10:09"), (late, None, "10:09")]
