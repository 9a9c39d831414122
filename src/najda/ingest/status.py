"""What is loaded: per region, the row count of every layer and its last import."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

# layer name -> SQL counting that layer's rows for one region
_REGION_LAYERS = {
    "governorates": "SELECT count(*) FROM governorate WHERE region_id = :rid",
    "places": "SELECT count(*) FROM place WHERE region_id = :rid",
    "jurisdictions": "SELECT count(*) FROM jurisdiction WHERE region_id = :rid",
    "road_nodes": "SELECT count(*) FROM road_node WHERE region_id = :rid",
    "road_edges": "SELECT count(*) FROM road_edge WHERE region_id = :rid",
    "stations": "SELECT count(*) FROM station WHERE region_id = :rid",
}
_CATALOGUE = {
    "agencies": "SELECT count(*) FROM agency",
    "unit_types": "SELECT count(*) FROM unit_type",
    "incident_types": "SELECT count(*) FROM incident_type",
    "units": "SELECT count(*) FROM unit",
}


def loaded_status(engine: Engine) -> dict[str, Any]:
    """Counts per layer for every region, plus the catalogue and the graph version."""
    with engine.connect() as conn:
        catalogue = {name: conn.execute(text(sql)).scalar_one() for name, sql in _CATALOGUE.items()}
        regions: list[dict[str, Any]] = []
        for rid, code, name_en, name_ar in conn.execute(
            text("SELECT id, code, name_en, name_ar FROM region ORDER BY code")
        ):
            counts = {
                name: conn.execute(text(sql), {"rid": rid}).scalar_one()
                for name, sql in _REGION_LAYERS.items()
            }
            kinds: dict[str, int] = dict(
                conn.execute(
                    text("SELECT kind, count(*) FROM place WHERE region_id = :rid GROUP BY kind"),
                    {"rid": rid},
                ).all()
            )
            graph = (
                conn.execute(
                    text(
                        "SELECT version, node_count, edge_count, component_count, dropped_node_count, "
                        "source, created_at FROM graph_version WHERE region_id = :rid "
                        "ORDER BY version DESC LIMIT 1"
                    ),
                    {"rid": rid},
                )
                .mappings()
                .first()
            )
            imports = [
                dict(r)
                for r in conn.execute(
                    text(
                        "SELECT layer, source, feature_count, skipped_count, imported_at "
                        "FROM layer_import WHERE region_id = :rid ORDER BY layer"
                    ),
                    {"rid": rid},
                ).mappings()
            ]
            regions.append(
                {
                    "code": code,
                    "name_en": name_en,
                    "name_ar": name_ar,
                    "counts": counts,
                    "places_by_kind": kinds,
                    "graph": dict(graph) if graph else None,
                    "imports": imports,
                }
            )
    return {"catalogue": catalogue, "regions": regions}


def format_status(status: dict[str, Any]) -> str:
    lines = ["catalogue: " + ", ".join(f"{k} {v}" for k, v in status["catalogue"].items())]
    if not status["regions"]:
        lines.append("no region imported yet (try: najda import region riyadh)")
    for region in status["regions"]:
        lines.append(f"region {region['code']}: {region['name_en']} / {region['name_ar']}")
        for name, count in region["counts"].items():
            lines.append(f"  {name:14} {count:>8}")
        for kind, count in sorted(region["places_by_kind"].items()):
            lines.append(f"    {kind:12} {count:>8}")
        graph = region["graph"]
        if graph:
            lines.append(
                f"  road graph v{graph['version']}: {graph['node_count']} nodes, "
                f"{graph['edge_count']} edges, {graph['component_count']} strongly connected "
                f"components in the source, {graph['dropped_node_count']} nodes outside the "
                f"routable core dropped"
            )
    return "\n".join(lines)
