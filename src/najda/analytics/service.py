"""One entry point for the planner's questions (used by the API, the CLI and notebooks).

:class:`Planner` ties the pieces to a database: it gets the road graph from a
:class:`~najda.routing.graph.GraphCache` (rebuilt when ``graph_version`` changes).

What it keeps in memory is derived from the database and keyed by what it was derived
from, so it is never served stale:

* population surfaces tied to the graph: by graph (identity and version), resolution
  and the region's last import time (``layer_import.imported_at``), so a re-import of
  any layer, or a new graph version, builds them again;
* station-siting answers: by their parameters, the same graph and import keys, and
  the stations used (id, road node, snap distance). Coverage from available units is
  never kept: units move.

Two requests asking for the same thing at once compute it once (the second waits).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from najda.analytics import coverage as cov
from najda.analytics import heatmap, kpi, siting
from najda.analytics.population import DEFAULT_RESOLUTION, population_surface
from najda.analytics.siting import Model as SitingModel
from najda.errors import InvalidInput
from najda.routing.engine import node_travel_times
from najda.routing.graph import GraphCache, RoadGraph

HEATMAP_LIMIT_S = 30 * 60.0
KEEP = 4  # derived results kept per kind (older ones are dropped first)


class _Memo:
    """A small LRU of derived results; concurrent requests for one key build it once."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._values: OrderedDict[Any, Any] = OrderedDict()
        self._building: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts only, never held while building

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._values:  # built by the request we waited for
                    return self._values[key]
            try:
                value = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.keep:
                    self._values.popitem(last=False)
            return value


class Planner:
    """Planner analytics of one region over one database.

    Parameters
    ----------
    engine
        The database.
    region
        Region code.
    graphs
        Graph cache to share (e.g. the web app's); a private one by default.
    max_age_s
        Fix age beyond which a unit's GPS position is stale (for coverage from units).
    """

    def __init__(
        self,
        engine: Engine,
        region: str = "riyadh",
        *,
        graphs: GraphCache | None = None,
        max_age_s: float = 900.0,
    ) -> None:
        self.engine = engine
        self.region = region
        self.graphs = graphs or GraphCache()
        self.max_age_s = max_age_s
        self._demand = _Memo()
        self._siting = _Memo()

    # -- inputs ----------------------------------------------------------------------
    def graph(self) -> RoadGraph:
        return self.graphs.get(self.engine, self.region)

    def _imported_at(self) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT max(l.imported_at) FROM layer_import l JOIN region r "
                    "ON r.id = l.region_id WHERE r.code = :r"
                ),
                {"r": self.region},
            ).scalar()

    def _data_key(self, graph: RoadGraph) -> tuple[Any, ...]:
        """What derived data depends on: the graph loaded and the region's last import."""
        return (id(graph), graph.version, self._imported_at())

    def demand(self, resolution: int = DEFAULT_RESOLUTION) -> cov.Demand:
        """The population surface at ``resolution`` tied to the current graph (cached)."""
        graph = self.graph()

        def build() -> cov.Demand:
            surface = population_surface(
                self.engine, self.region, resolution=resolution, graph=graph
            )
            return cov.attach(graph, surface)

        demand: cov.Demand = self._demand.get((*self._data_key(graph), resolution), build)
        return demand

    def agencies(self) -> list[dict[str, Any]]:
        """Agencies with stations in this region: code and names (for the page)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.code, a.name_en, a.name_ar, count(*) AS stations FROM agency a "
                    "JOIN station s ON s.agency_id = a.id JOIN region r ON r.id = s.region_id "
                    "WHERE r.code = :r GROUP BY a.id ORDER BY a.code"
                ),
                {"r": self.region},
            ).all()
        return [dict(r._mapping) for r in rows]

    def _check_agency(self, agency: str) -> None:
        with self.engine.connect() as conn:
            known = list(conn.execute(text("SELECT code FROM agency ORDER BY code")).scalars())
        if agency not in known:
            raise InvalidInput(
                f"unknown agency: {agency}", details={"agency": agency, "known": known}
            )

    def sources(self, source: str, agency: str | None) -> list[cov.Source]:
        if agency is not None:
            self._check_agency(agency)
        if source == "stations":
            return cov.load_stations(self.engine, self.region, agency=agency)
        if source == "units":
            return cov.load_available_units(self.engine, agency=agency, max_age_s=self.max_age_s)
        raise InvalidInput("source must be stations or units", details={"source": source})

    # -- questions ---------------------------------------------------------------------
    def coverage(
        self,
        *,
        source: str = "stations",
        agency: str | None = None,
        thresholds_min: Sequence[float] = cov.DEFAULT_THRESHOLDS_MIN,
        resolution: int = DEFAULT_RESOLUTION,
    ) -> cov.Coverage:
        graph = self.graph()
        demand = self.demand(resolution)
        found = self.sources(source, agency)
        if source == "stations":
            return cov.coverage_from_stations(graph, demand, found, thresholds_min=thresholds_min)
        return cov.coverage_from_points(graph, demand, found, thresholds_min=thresholds_min)

    def modelled_heatmap(
        self,
        *,
        source: str = "stations",
        agency: str | None = None,
        resolution: int | None = None,
    ) -> list[dict[str, Any]]:
        """Modelled response time per H3 cell (``resolution`` None: the finest up to 9
        that keeps the whole graph within :data:`~.heatmap.CELL_BUDGET` cells)."""
        graph = self.graph()
        found = self.sources(source, agency)
        if source == "stations":
            nodes, _, _ = cov.station_nodes(graph, found)
            times = (
                node_travel_times(graph, np.unique(nodes), limit_s=HEATMAP_LIMIT_S)
                if nodes.size
                else np.full(graph.node_count, np.inf)
            )
        else:
            demand = self.demand(DEFAULT_RESOLUTION)
            times = cov.coverage_from_points(
                graph, demand, found, thresholds_min=(HEATMAP_LIMIT_S / 60,)
            ).reach.node_times_s  # type: ignore[union-attr]
        return heatmap.modelled(graph, times, resolution=resolution or self.heatmap_resolution())

    def heatmap_resolution(self) -> int:
        """The finest H3 resolution up to 9 that keeps the whole road graph within
        :data:`~.heatmap.CELL_BUDGET` cells (9 on Doha, finer cells never)."""
        return heatmap.fine_resolution(self.graph(), finest=heatmap.DEFAULT_RESOLUTION)

    def history(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        return kpi.load_history(self.engine, self.region, since=since, until=until)

    def measured_heatmap(
        self,
        *,
        stage: str = "response",
        resolution: int = heatmap.DEFAULT_RESOLUTION,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        return heatmap.measured(self.history(since=since), stage=stage, resolution=resolution)

    def kpis(
        self,
        *,
        by: str = "all",
        targets: Mapping[str, float] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> kpi.KpiReport:
        return kpi.kpis(self.history(since=since, until=until), by=by, targets=targets)

    def siting(
        self,
        *,
        model: siting.Model = "mclp",
        add: int | None = 1,
        threshold_min: float = 8.0,
        agency: str | None = None,
        resolution: int = DEFAULT_RESOLUTION,
        candidate_resolution: int | None = None,
        time_limit_s: float = siting.SOLVER_TIME_LIMIT_S,
        progress: bool | None = None,
    ) -> dict[str, Any]:
        """Solve, and describe the answer: numbers, new sites with their gains, cells.

        Every road node is a candidate site unless ``candidate_resolution`` asks for one
        per H3 cell. ``progress`` shows a bar over the drive-time searches (default: on a
        terminal, as ``najda analyse siting`` runs it). The solver stops after ``time_limit_s``
        (:class:`~.siting.SolverTimeLimit`). Answers are kept (see the module): the
        page's JSON and GeoJSON requests, and the downloads, solve once.
        """
        graph = self.graph()
        stations = self.sources("stations", agency)
        used = tuple((s.id, s.road_node_id, s.snap_distance_m) for s in stations)
        n_new = add if model == "mclp" else None
        key = (
            *self._data_key(graph),
            model,
            n_new,
            float(threshold_min),
            agency,
            resolution,
            candidate_resolution,
            used,
        )

        def build() -> dict[str, Any]:
            return self._solve_siting(
                graph,
                stations,
                model=model,
                add=n_new,
                threshold_min=threshold_min,
                resolution=resolution,
                candidate_resolution=candidate_resolution,
                time_limit_s=time_limit_s,
                progress=progress,
            )

        answer: dict[str, Any] = self._siting.get(key, build)
        return dict(answer)  # a caller may drop parts (the CLI drops the cells)

    def _solve_siting(
        self,
        graph: RoadGraph,
        stations: Sequence[cov.Source],
        *,
        model: SitingModel,
        add: int | None,
        threshold_min: float,
        resolution: int,
        candidate_resolution: int | None,
        time_limit_s: float,
        progress: bool | None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        demand = self.demand(resolution)
        inst = siting.build_instance(
            graph,
            demand,
            stations,
            threshold_min=threshold_min,
            candidate_resolution=candidate_resolution,
            progress=progress,
        )
        searched = time.perf_counter()
        result = siting.solve(inst, model=model, add=add, time_limit_s=time_limit_s)
        gov = demand.surface.governorates
        summary = siting.result_summary(
            result, graph, float(gov.population.sum()), float(gov.placed.sum())
        )
        existing = inst.site_node[inst.fixed]
        before = siting.coverage_with(graph, demand, existing, inst.threshold_s)
        after = siting.coverage_with(
            graph, demand, np.concatenate([existing, result.new_nodes]), inst.threshold_s
        )
        summary["cells"] = _gained_cells(demand, before, after, inst.threshold_s)
        for site, node in zip(summary["new_sites"], result.new_nodes, strict=True):
            alone = siting.coverage_with(graph, demand, np.array([node]), inst.threshold_s)
            site["covers_alone"] = float(demand.surface.population[alone <= inst.threshold_s].sum())
        summary["existing"] = [s.as_dict() for s in cov.station_nodes(graph, stations)[1]]
        summary["seconds"] = {
            "drive_times": round(searched - started, 3),
            "solve": round(time.perf_counter() - searched, 3),
        }
        return summary


def _gained_cells(
    demand: cov.Demand, before: np.ndarray, after: np.ndarray, threshold_s: float
) -> list[dict[str, Any]]:
    s = demand.surface
    rows: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(demand.on_network & (s.population > 0)):
        state = (
            "covered"
            if before[i] <= threshold_s
            else "gained"
            if after[i] <= threshold_s
            else "uncovered"
        )
        c = str(s.cell[i])
        row = rows.setdefault(
            c,
            {
                "cell": c,
                "population": 0.0,
                "state": state,
                "before_s": cov._finite(before[i]),
                "after_s": cov._finite(after[i]),
            },
        )
        row["population"] += float(s.population[i])
    return sorted(rows.values(), key=lambda r: r["cell"])
