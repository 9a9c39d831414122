"""Stations from points (GeoJSON or any vector file, or CSV with lat/lon columns).

Each station belongs to an agency: the ``agency`` option, else an ``agency`` column of
agency codes, else the OpenStreetMap ``amenity`` tag, else a facility ``kind``:

* ``amenity=police`` -> police (security patrols)
* ``amenity=fire_station`` -> civil_defence
* ``amenity=hospital`` -> red_crescent, the EMS agency. Demo assumption: ambulances are
  posted at hospitals. Real posts should be imported with ``--agency red_crescent``.
* ``clinic``, ``doctors`` and other health amenities are skipped: no dispatch there.
* a ``kind`` column (facility files such as Qatar's) follows :func:`kind_agency`:
  police (traffic police to traffic, training grounds skipped), fire to civil defence
  (a company's industrial fire brigade skipped), ambulance points to the EMS agency,
  hospitals with an emergency department (``ed`` not ``no``) as ambulance posts; health
  centres, specialist centres and points not clearly a hospital are skipped.

Every skipped point is counted in the report with its reason. OpenStreetMap often maps
one facility twice (a node and a building, or two mappers): stations of one agency
within :data:`DUPLICATE_WITHIN_M` of each other are merged into the one with the most
names, taking the names it lacks from the others. Names are cleaned by
:mod:`najda.ingest.names`.

A station's code is stable across imports: a ``code`` column, else the OSM id, else a
hash of amenity, name and coordinates rounded to about a metre. Re-imports match on the
code, so units keep their home station. Every station is then linked to the nearest
road node of the region (:func:`link_stations_to_roads`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from najda.errors import ImportFailed
from najda.ingest.base import (
    Bind,
    ImportReport,
    ensure_region,
    reading,
    replace_layer,
    require_file,
)
from najda.ingest.base import progress as progress_bar  # the option is named progress
from najda.ingest.boundaries import (
    agency_id,
    ewkb,
    merge_rows,
    read_vector,
    to_wgs84,
    translate_integrity,
)
from najda.ingest.names import Names, name_pair

AMENITY_AGENCY = {"police": "police", "fire_station": "civil_defence", "hospital": "red_crescent"}
NOT_DISPATCH = {"clinic", "doctors", "dentist", "pharmacy"}
#: stations of one agency closer than this are one facility mapped twice
DUPLICATE_WITHIN_M = 50.0
DEFAULT_NAMES = {
    "police": ("Police station", "مركز شرطة"),
    "fire_station": ("Civil defence station", "مركز الدفاع المدني"),
    "fire": ("Civil defence station", "مركز الدفاع المدني"),
    "ambulance": ("Ambulance point", "نقطة إسعاف"),
    "hospital": ("Hospital", "مستشفى"),
}
DEFAULT_AGENCY_NAMES = {"traffic": ("Traffic police", "مركز المرور")}
_UNNAMED = {"unnamed", "no name", "بدون اسم"}
_LAT = ("lat", "latitude", "y")
_LON = ("lon", "lng", "long", "longitude", "x")
# a little less than the metres in a degree of latitude (110.6 km) or of longitude at
# the equator: dividing by it gives a search radius in degrees that is never too small
_METRES_PER_DEGREE_BELOW = 110_000.0
_EARTH_RADIUS_M = 6_371_008.8


@dataclass
class StationRow:
    code: str
    agency: str
    kind: str | None
    name_en: str | None
    name_ar: str | None
    geom: BaseGeometry


def import_stations(
    engine: Bind,
    region: str,
    path: str | Path,
    *,
    agency: str | None = None,
    progress: bool | None = None,
) -> ImportReport:
    """Import the stations of ``region`` and link them to its road network.

    Parameters
    ----------
    engine
        Database engine (the catalogue's agencies must be loaded).
    region
        Region code (created when missing).
    path
        Points as GeoJSON/GeoPackage/Shapefile, or CSV with lat/lon columns.
    agency
        Agency code of every station; otherwise an ``agency`` or ``amenity`` column.
    progress
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    ImportReport
        Imported and skipped (with reasons) counts; ``extra`` has how many stations
        were linked to a road node and how many had no name.

    Raises
    ------
    ImportFailed
        Missing/empty/unreadable file, no points, no way to tell the agency, an
        unknown agency, or no usable station. Nothing is written then.
    """
    report = ImportReport(layer="stations", region=region, source=str(path))
    frame = read_points(path, report=report)
    with reading(engine) as conn:
        agencies = _agency_ids(conn, agency)
    stations = prepare_stations(frame, agency=agency, report=report, source=Path(path).name)
    missing = sorted({s.agency for s in stations} - set(agencies))
    if missing:
        raise ImportFailed(
            f"agency {', '.join(missing)} is not in the catalogue (najda import catalogue)"
        )
    rows = (
        (agencies[s.agency], s.code, s.kind, s.name_en, s.name_ar, ewkb(s.geom))
        for s in progress_bar(
            stations,
            desc=f"{region} stations",
            total=len(stations),
            unit="station",
            enabled=progress,
        )
    )
    with translate_integrity("stations"), replace_layer(engine, report) as conn:
        rid = ensure_region(conn, region)
        report.imported = merge_rows(
            conn,
            "station",
            key=("region_id", "code"),
            columns=("region_id", "agency_id", "code", "kind", "name_en", "name_ar", "geom"),
            rows=((rid, *row) for row in rows),
            scope="t.region_id = :rid",
            params={"rid": rid},
        )
        report.extra["linked_to_roads"] = link_stations_to_roads(conn, rid)
    return report


def link_stations_to_roads(conn: Connection, region_id: int) -> int:
    """Link every station of the region to its nearest road node, by distance in metres.

    The GiST index answers a KNN (``<->``) query for the nearest node in degrees; its
    geography distance D bounds the answer, so every node within D metres is then
    found with an index-assisted ``ST_DWithin`` over a box wide enough in degrees at
    that latitude, and ranked by geography distance (degrees of longitude shrink with
    latitude, so the planar nearest is not always the nearest in metres). The distance
    goes into ``snap_distance_m``; stations stay unlinked (NULL) when the region has no
    roads.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    region_id
        Id of the region.

    Returns
    -------
    int
        Number of stations linked.
    """
    conn.execute(
        text(
            "UPDATE station SET road_node_id = NULL, snap_distance_m = NULL WHERE region_id = :rid"
        ),
        {"rid": region_id},
    )
    result = conn.execute(
        text("""
        UPDATE station s SET road_node_id = near.node_id, snap_distance_m = near.metres
        FROM (
          SELECT st.id AS station_id, best.node_id, best.metres
          FROM station st
          CROSS JOIN LATERAL (
            SELECT ST_Distance(rn.geom::geography, st.geom::geography) AS bound
            FROM road_node rn WHERE rn.region_id = :rid
            ORDER BY rn.geom <-> st.geom LIMIT 1
          ) planar
          CROSS JOIN LATERAL (
            SELECT rn.id AS node_id,
                   ST_Distance(rn.geom::geography, st.geom::geography) AS metres
            FROM road_node rn
            WHERE rn.region_id = :rid
              AND ST_DWithin(rn.geom, st.geom, (planar.bound + 1) / (:m_per_deg * cos(radians(
                    least(89, abs(ST_Y(st.geom)) + (planar.bound + 1) / :m_per_deg)))))
            ORDER BY metres, rn.id LIMIT 1
          ) best
          WHERE st.region_id = :rid
        ) near
        WHERE s.id = near.station_id
    """),
        {"rid": region_id, "m_per_deg": _METRES_PER_DEGREE_BELOW},
    )
    return int(result.rowcount)


# -- reading -------------------------------------------------------------------------------
def read_points(path: str | Path, *, report: ImportReport) -> gpd.GeoDataFrame:
    """Points in EPSG:4326 from a vector file or a CSV with lat/lon columns."""
    file = require_file(path)
    if file.suffix.lower() in {".csv", ".txt"}:
        return _read_csv(file, report=report)
    frame = read_vector(file, report=report)
    kinds = frame.geometry.dropna().geom_type.value_counts()
    if "Point" not in kinds.index and "MultiPoint" not in kinds.index:
        found = ", ".join(f"{k} ({v})" for k, v in kinds.items()) or "no geometry"
        raise ImportFailed(f"stations need points, {file.name} has {found}")
    return frame


def _read_csv(file: Path, *, report: ImportReport) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0]
        raise ImportFailed(f"cannot read {file.name}: {reason}") from exc
    table.columns = [str(c).strip() for c in table.columns]
    lower = {c.lower(): c for c in table.columns}
    lat = next((lower[c] for c in _LAT if c in lower), None)
    lon = next((lower[c] for c in _LON if c in lower), None)
    if lat is None or lon is None:
        raise ImportFailed(
            f"{file.name} needs lat/lon (or latitude/longitude) columns; "
            f"it has {', '.join(table.columns) or 'none'}"
        )
    if table.empty:
        raise ImportFailed(f"no rows in {file.name}")
    lats = pd.to_numeric(table[lat], errors="coerce")
    lons = pd.to_numeric(table[lon], errors="coerce")
    geoms = [Point(x, y) if _in_range(x, y) else None for x, y in zip(lons, lats, strict=True)]
    frame = gpd.GeoDataFrame(table.drop(columns=[lat, lon]), geometry=geoms, crs=4326)
    return to_wgs84(frame, name=file.name, report=report)


def _in_range(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


# -- validating ----------------------------------------------------------------------------
def prepare_stations(
    frame: gpd.GeoDataFrame, *, agency: str | None, report: ImportReport, source: str
) -> list[StationRow]:
    """Validated stations of ``frame``; skipped and merged rows are counted in ``report``."""
    columns = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    if agency is None and not {"agency", "amenity", "kind"} & columns.keys():
        raise ImportFailed(
            f"cannot tell the agency of the stations in {source}: pass an "
            "agency or give an agency, amenity or kind column"
        )
    stations: list[StationRow] = []
    seen: set[str] = set()
    for _, record in frame.iterrows():
        values = {key: _text(record[col]) for key, col in columns.items()}
        station = _station(values, record.geometry, agency=agency, report=report)
        if station is None:
            continue
        if station.code in seen:
            report.skip("duplicate station (same code)")
            continue
        seen.add(station.code)
        stations.append(station)
    stations = merge_duplicates(stations, report=report)
    if not stations:
        raise ImportFailed(
            f"no usable stations in {source} "
            f"({', '.join(f'{k}: {v}' for k, v in report.reasons.items())})"
        )
    unnamed = sum(s.name_en is None and s.name_ar is None for s in stations)
    no_arabic = sum(s.name_en is not None and s.name_ar is None for s in stations)
    if unnamed:
        report.extra["unnamed_given_default_names"] = unnamed
    if no_arabic:
        report.extra["no_arabic_name_english_used"] = no_arabic
    return [_with_default_names(s) for s in stations]


def _station(
    values: dict[str, str | None],
    geom: BaseGeometry | None,
    *,
    agency: str | None,
    report: ImportReport,
) -> StationRow | None:
    point = _point(geom)
    if point is None:
        report.skip("not a point" if isinstance(geom, BaseGeometry) else "no coordinates")
        return None
    code_of_agency, why = station_agency(values, agency=agency)
    if code_of_agency is None:
        report.skip(why)
        return None
    names = _names(values)
    if names.ar_not_arabic:
        report.tally("name_ar_not_arabic")
    amenity = values.get("amenity") or values.get("kind")
    return StationRow(
        code=_code(values, point, amenity),
        agency=code_of_agency,
        kind=values.get("kind") or amenity,
        name_en=names.en,
        name_ar=names.ar,
        geom=point,
    )


def station_agency(
    values: Mapping[str, str | None], *, agency: str | None = None
) -> tuple[str | None, str]:
    """(agency code, "") for a point, or (None, why it is not a dispatch station).

    The ``agency`` option wins, then an ``agency`` column, then ``amenity``, then
    ``kind`` (:func:`kind_agency`).
    """
    if agency or values.get("agency"):
        return str(agency or values.get("agency")), ""
    amenity = values.get("amenity")
    if amenity:
        if amenity in AMENITY_AGENCY:
            return AMENITY_AGENCY[amenity], ""
        if amenity in NOT_DISPATCH:
            return None, f"amenity {amenity}: not a dispatch station"
        return None, f"amenity {amenity}: no agency"
    kind = values.get("kind")
    if not kind:
        return None, "no agency, amenity or kind"
    return kind_agency(kind, role=values.get("type_or_role"), ed=values.get("ed"))


# (kind, type_or_role) -> the agency, or None and the reason it is skipped
_ROLE_RULES: dict[tuple[str, str], tuple[str | None, str]] = {
    ("police", "traffic"): ("traffic", ""),
    ("police", "training"): (None, "police training ground: not a dispatch station"),
    ("fire", "industrial-fire-station"): (
        None,
        "industrial fire brigade (a company's own): not civil defence",
    ),
    ("hospital", "health-centre"): (None, "health centre: not an ambulance post"),
    ("hospital", "specialist-centre"): (None, "specialist centre: not an ambulance post"),
    ("hospital", "unclear"): (None, "not clearly a hospital: not an ambulance post"),
}
_KIND_AGENCY = {"police": "police", "fire": "civil_defence", "ambulance": "red_crescent"}


def kind_agency(kind: str, *, role: str | None, ed: str | None) -> tuple[str | None, str]:
    """The agency of a facility described by ``kind``, ``type_or_role`` and ``ed``.

    ==========  ==========================================  =======================
    kind        type_or_role, ed                            agency
    ==========  ==========================================  =======================
    police      traffic                                     traffic
    police      training (a college, a shooting range)      skipped
    police      station, department, unknown...             police
    fire        industrial-fire-station                     skipped
    fire        fire-station, civil-defence-station, -hq    civil_defence
    ambulance   any                                         red_crescent (EMS)
    hospital    hospital, ed yes or unknown                 red_crescent (a post)
    hospital    ed no                                       skipped
    hospital    health-centre, specialist-centre, unclear   skipped
    other       (clinic-ed, clinic...)                      skipped
    ==========  ==========================================  =======================

    Returns
    -------
    tuple
        (agency code, "") or (None, the reason the point is skipped).
    """
    rule = _ROLE_RULES.get((kind, role or ""))
    if rule is not None:
        return rule
    if kind == "hospital":
        if (ed or "").lower() == "no":
            return None, "hospital without an emergency department: not an ambulance post"
        return "red_crescent", ""
    if kind in _KIND_AGENCY:
        return _KIND_AGENCY[kind], ""
    return None, f"kind {kind}: not a dispatch station"


def merge_duplicates(
    stations: list[StationRow], *, report: ImportReport, within_m: float = DUPLICATE_WITHIN_M
) -> list[StationRow]:
    """One station per facility: those of one agency within ``within_m`` are merged.

    The kept station is the one with the most names (then the first in the file); it
    takes a name it lacks from the others. Each merged-away station is counted.
    """
    if len(stations) < 2:
        return stations
    groups = _nearby_groups(stations, within_m)
    kept: list[StationRow] = []
    for members in groups:
        best = max(members, key=lambda i: (_name_count(stations[i]), -i))
        keeper = stations[best]
        for i in members:
            keeper.name_en = keeper.name_en or stations[i].name_en
            keeper.name_ar = keeper.name_ar or stations[i].name_ar
        kept.append(keeper)
        if len(members) > 1:
            report.skip(
                f"same agency within {within_m:g} m of another station (merged)", len(members) - 1
            )
    return kept


def _nearby_groups(stations: list[StationRow], within_m: float) -> list[list[int]]:
    """Indexes of stations, grouped by agency and chains of neighbours within ``within_m``,
    in file order."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    lon = np.radians([s.geom.x for s in stations])
    lat = np.radians([s.geom.y for s in stations])
    # local metres: exact enough at tens of metres, anywhere but the poles
    xy = np.column_stack((lon * np.cos(lat), lat)) * _EARTH_RADIUS_M
    agency = np.unique([s.agency for s in stations], return_inverse=True)[1]
    pairs = cKDTree(xy).query_pairs(within_m, output_type="ndarray")
    pairs = pairs[agency[pairs[:, 0]] == agency[pairs[:, 1]]]
    n = len(stations)
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(links, directed=False)
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(label.tolist()):
        groups.setdefault(g, []).append(i)
    return sorted(groups.values(), key=lambda members: members[0])


def _name_count(station: StationRow) -> int:
    return (station.name_en is not None) + (station.name_ar is not None)


def _point(geom: BaseGeometry | None) -> Point | None:
    if not isinstance(geom, BaseGeometry) or geom.is_empty:
        return None
    if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type != "Point" or not _in_range(geom.x, geom.y):
        return None
    return Point(geom.x, geom.y)


def _names(values: dict[str, str | None]) -> Names:
    name = values.get("name")
    return name_pair(
        name=None if name is None or name.strip().lower() in _UNNAMED else name,
        name_en=values.get("name_en") or values.get("name:en"),
        name_ar=values.get("name_ar") or values.get("name:ar"),
    )


def _with_default_names(station: StationRow) -> StationRow:
    default_en, default_ar = DEFAULT_AGENCY_NAMES.get(
        station.agency, DEFAULT_NAMES.get(station.kind or "", ("Station", "مركز"))
    )
    if station.name_en is None and station.name_ar is None:
        station.name_en, station.name_ar = default_en, default_ar
    station.name_ar = station.name_ar or station.name_en
    station.name_en = station.name_en or station.name_ar
    return station


def _code(values: dict[str, str | None], point: Point, amenity: str | None) -> str:
    if values.get("code"):
        return str(values["code"])
    osm_id = values.get("osm_id") or values.get("@id") or values.get("id")
    if osm_id:
        osm_type = values.get("osm_type")
        return f"osm:{osm_type}/{osm_id}" if osm_type else f"osm:{osm_id}"
    name = values.get("name") or values.get("name_en") or values.get("name_ar") or ""
    key = f"{amenity or ''}|{name}|{point.x:.5f}|{point.y:.5f}"
    return "h:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    out = str(value).strip()
    return out or None


def _agency_ids(conn: Connection, agency: str | None) -> dict[str, int]:
    """Agency code -> id; checks ``agency`` when given."""
    if agency is not None:
        return {agency: agency_id(conn, agency)}
    return {code: int(i) for i, code in conn.execute(text("SELECT id, code FROM agency"))}
