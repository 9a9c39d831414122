"""One entry point for the planner's questions (used by the API, the CLI and notebooks).

:class:`Planner` ties the pieces to a database: it gets the road graph from a
:class:`~najda.routing.graph.GraphCache` (rebuilt when ``graph_version`` changes) and
keeps population surfaces per resolution until the region is re-imported.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from najda.analytics import coverage as cov
from najda.analytics import heatmap, kpi, siting
from najda.analytics.population import DEFAULT_RESOLUTION, population_surface
from najda.errors import InvalidInput
from najda.routing.engine import node_travel_times
from najda.routing.graph import GraphCache, RoadGraph

HEATMAP_LIMIT_S = 30 * 60.0
AGENCIES = ("police", "traffic", "road_security", "civil_defence", "red_crescent", "coast_guard")


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
        self._demand: OrderedDict[tuple[Any, ...], cov.Demand] = OrderedDict()
        self._lock = threading.Lock()

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

    def demand(self, resolution: int = DEFAULT_RESOLUTION) -> cov.Demand:
        """The population surface at ``resolution`` tied to the current graph (cached)."""
        graph = self.graph()
        key = (id(graph), graph.version, resolution, self._imported_at())
        with self._lock:
            if key in self._demand:
                return self._demand[key]
        demand = cov.attach(
            graph, population_surface(self.engine, self.region, resolution=resolution)
        )
        with self._lock:
            self._demand[key] = demand
            while len(self._demand) > 4:
                self._demand.popitem(last=False)
        return demand

    def sources(self, source: str, agency: str | None) -> list[cov.Source]:
        if agency is not None and agency not in AGENCIES:
            raise InvalidInput(
                f"unknown agency: {agency}", details={"agency": agency, "known": list(AGENCIES)}
            )
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
        resolution: int = heatmap.DEFAULT_RESOLUTION,
    ) -> list[dict[str, Any]]:
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
        return heatmap.modelled(graph, times, resolution=resolution)

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
        candidate_resolution: int = siting.DEFAULT_CANDIDATE_RESOLUTION,
        time_limit_s: float = siting.SOLVER_TIME_LIMIT_S,
    ) -> dict[str, Any]:
        """Solve, and describe the answer: numbers, new sites, cells gained (GeoJSON).

        The solver stops after ``time_limit_s`` (:class:`~.siting.SolverTimeLimit`)."""
        graph = self.graph()
        demand = self.demand(resolution)
        stations = self.sources("stations", agency)
        inst = siting.build_instance(
            graph,
            demand,
            stations,
            threshold_min=threshold_min,
            candidate_resolution=candidate_resolution,
        )
        result = siting.solve(
            inst, model=model, add=add if model == "mclp" else None, time_limit_s=time_limit_s
        )
        population = float(demand.surface.governorates.population.sum())
        summary = siting.result_summary(result, graph, population)
        existing = inst.site_node[inst.fixed]
        before = siting.coverage_with(graph, demand, existing, inst.threshold_s)
        after = siting.coverage_with(
            graph, demand, np.concatenate([existing, result.new_nodes]), inst.threshold_s
        )
        summary["cells"] = _gained_cells(demand, before, after, inst.threshold_s)
        summary["existing"] = [s.as_dict() for s in cov.station_nodes(graph, stations)[1]]
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
