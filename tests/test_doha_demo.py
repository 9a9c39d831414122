"""The Doha demo: units seeded across the whole city (stations by agency, patrols spread
over every municipality with roads, not bunched), and the simulator driving them on the
40k-node graph."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, text

from dispatch_helpers import add_unit
from najda.avl import simulate as sim
from najda.dispatch.seed import seed_demo, spread_posts

# municipalities with enough of the road network to deserve their own patrols
PATROLLED = ("Ad Dawhah", "Ar Rayyan", "Al Wakrah", "Al Daayen", "Umm Salal")


def test_spread_posts_share_out_by_group_and_do_not_bunch() -> None:
    rng = np.random.default_rng(3)
    big = rng.uniform((51.40, 25.20), (51.60, 25.40), size=(4000, 2))  # 20 x 20 km
    small = rng.uniform((51.00, 25.00), (51.02, 25.02), size=(100, 2))
    lonlat = np.vstack((big, small))
    group = np.repeat([1, 2], [len(big), len(small)])
    posts = spread_posts(lonlat, group, count=20, seed=7)
    again = spread_posts(lonlat, group, count=20, seed=7)
    assert posts.tolist() == again.tolist() and len(set(posts.tolist())) == 20
    assert np.bincount(group[posts]).tolist() == [0, 19, 1]  # by size, at least one each
    chosen = lonlat[posts[group[posts] == 1]] * 100  # about km
    gaps = np.linalg.norm(chosen[:, None] - chosen[None], axis=2) + np.eye(len(chosen)) * 99
    assert gaps.min() > 1.0  # no two posts within a kilometre of each other
    taken = np.zeros(len(lonlat), dtype=bool)
    taken[posts] = True
    other = spread_posts(lonlat, group, count=20, seed=8, exclude=taken)
    assert not set(other.tolist()) & set(posts.tolist())


def test_doha_units_cover_the_whole_city(doha_engine: Engine) -> None:
    # a patrol of another region (Riyadh) already holds P-PATROL-1
    add_unit(doha_engine, "P-PATROL-1", "patrol_car", 46.68, 24.71, fix_age_s=None)
    report = seed_demo(doha_engine, region="doha", patrols=30)
    with doha_engine.connect() as conn:
        patrols = conn.execute(
            text("""
            SELECT a.code, g.name_en, count(*), count(DISTINCT u.last_position)
            FROM unit u JOIN agency a ON a.id = u.agency_id
            JOIN governorate g ON ST_Covers(g.geom, u.last_position)
            WHERE u.station_id IS NULL GROUP BY 1, 2""")
        ).all()
        agencies = dict(
            conn.execute(
                text("""
                SELECT a.code, count(*) FROM unit u JOIN agency a ON a.id = u.agency_id
                JOIN station s ON s.id = u.station_id GROUP BY 1""")
            ).all()
        )
        signs = conn.execute(text("SELECT call_sign FROM unit ORDER BY call_sign")).scalars().all()
    per_place = {(agency, place): n for agency, place, n, _ in patrols}
    for agency in ("police", "traffic"):
        assert sum(n for (a, _), n in per_place.items() if a == agency) == 30
        assert all(per_place.get((agency, place), 0) >= 1 for place in PATROLLED), per_place
    assert all(n == distinct for _, _, n, distinct in patrols)  # never two on one node
    assert set(agencies) == {"police", "traffic", "civil_defence", "red_crescent"}
    assert report.units_created == len(signs) - 1 > 150
    # Qatar's call-sign prefix for ambulances, not the Saudi Red Crescent's
    assert any(s.startswith("AMB-") for s in signs) and not any(s.startswith("SRC-") for s in signs)
    assert "P-PATROL-31" in signs and "P-PATROL-32" not in signs  # numbered on from 2
    assert seed_demo(doha_engine, region="doha", patrols=30).units_created == 0


def test_the_simulator_drives_doha_patrols_first(doha_engine: Engine) -> None:
    seed_demo(doha_engine, region="doha", patrols=5)
    add_unit(doha_engine, "P-PATROL-99", "patrol_car", 46.68, 24.71, fix_age_s=None)  # Riyadh
    graph = sim.load_graph(doha_engine, "doha")
    units = sim.prepare_units(doha_engine, region="doha", count=12)
    assert len(graph) == 39_697 and all(graph.values())  # every node has a way out
    signs = [u.call_sign for u in units]
    assert len(signs) == 12 and "P-PATROL-99" not in signs
    assert [s.split("-")[0] for s in signs[:10]] == ["P", "T"] * 5  # patrols, in turn
    drivers = sim.drivers_for(units, graph, seed=1)
    start = {i: d.where()[:2] for i, d in drivers.items()}
    for driver in drivers.values():
        for _ in range(20):
            driver.advance(15.0)  # five minutes of driving
    moved = [np.hypot(*np.subtract(d.where()[:2], start[i])) for i, d in drivers.items()]
    assert min(moved) > 0 and all(51.0 < d.where()[0] < 51.8 for d in drivers.values())
