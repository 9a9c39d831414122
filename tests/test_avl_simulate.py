"""`najda simulate units` drives demo units along the imported Riyadh roads and reports
through the real HTTP API: every stored fix lies on a road, and the units move."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine, text

from dispatch_helpers import Server, add_unit, straight_segments
from najda.cli import main


def test_simulated_units_drive_on_roads_through_the_api(
    riyadh_engine: Engine, server: Server
) -> None:
    segs = straight_segments(riyadh_engine)
    units = [
        add_unit(
            riyadh_engine,
            f"SIM-{i}",
            "patrol_car",
            segs[i * 7].lon,
            segs[i * 7].lat,
            fix_age_s=None,
        )
        for i in range(3)
    ]
    url = riyadh_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "units",
            "--url",
            server.url.removesuffix("/api/v1"),
            "--count",
            "3",
            "--call-sign",
            "SIM-0",
            "--call-sign",
            "SIM-1",
            "--call-sign",
            "SIM-2",
            "--interval",
            "0.4",
            "--speedup",
            "20",
            "--duration",
            "1.5",
        ],
        env={"DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    assert "driving 3 units" in result.output and "refused" not in result.output
    with riyadh_engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT p.unit_id, count(*) AS n, count(DISTINCT p.geom) AS places,
                   max((SELECT min(ST_Distance(p.geom::geography, e.geom::geography))
                        FROM road_edge e WHERE e.geom && ST_Expand(p.geom, 0.001))) AS off_m,
                   bool_and(u.last_fix_at IS NOT NULL) AS has_latest
            FROM position p JOIN unit u ON u.id = p.unit_id
            WHERE p.unit_id = ANY(:ids) GROUP BY p.unit_id ORDER BY p.unit_id"""),
            {"ids": units},
        ).all()
    assert [r.unit_id for r in rows] == units
    for r in rows:
        assert r.n >= 3 and r.places >= 2  # it reported repeatedly and moved
        assert r.off_m is not None and r.off_m < 1.0  # on the road's geometry
        assert r.has_latest
