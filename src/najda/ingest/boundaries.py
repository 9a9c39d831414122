"""Boundaries and places from GeoJSON, GeoPackage or Shapefile.

Layers and where they land:

================  ==============================  ===========================
layer             table                           geometry
================  ==============================  ===========================
governorates      ``governorate``                 polygons -> MultiPolygon
jurisdictions     ``jurisdiction`` (one agency)   polygons -> MultiPolygon
neighbourhoods    ``place`` (kind neighbourhood)  any (WOF mixes polygons, points)
localities        ``place`` (kind locality)       any
cities            ``place`` (kind city)           any
zones             ``place`` (kind zone)           any (Qatar's zones: WOF counties)
================  ==============================  ===========================

Any CRS is reprojected to EPSG:4326; a file without a CRS is accepted only when its
coordinates are plainly longitude/latitude. Invalid polygons are repaired with
:func:`shapely.make_valid` when the result is still polygonal with an area, otherwise
the feature is rejected; both are counted in the report with reasons.

Rows are matched by code: a re-import updates the rows that stay, adds new ones and
deletes those gone from the file, so ids of unchanged rows survive (later tables refer
to governorates and jurisdictions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from najda.errors import ImportFailed
from najda.ingest.base import (
    Bind,
    ImportReport,
    copy_rows,
    ensure_region,
    reading,
    replace_layer,
    require_file,
)
from najda.ingest.base import progress as progress_bar  # the option is named progress
from najda.ingest.names import bilingual

SRID = 4326
POLYGON_LAYERS = {"governorates": "governorate", "jurisdictions": "jurisdiction"}
PLACE_LAYERS = {
    "neighbourhoods": "neighbourhood",
    "localities": "locality",
    "cities": "city",
    "zones": "zone",
}
LAYERS = (*POLYGON_LAYERS, *PLACE_LAYERS)

# our column -> source attributes tried in order (case-insensitive)
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("wof_id", "id", "code", "osm_id", "city_id", "fid", "iso_code", "hasc"),
    "name_en": ("name_en", "name:en", "name_eng", "name_english", "name"),
    "name_ar": ("name_ar", "name:ar", "name_arabic", "name_ara"),
    "population": ("population", "pop", "pop_total", "population_total"),
}
_POLYGONAL = {"Polygon", "MultiPolygon"}
# square degrees (about 0.01 m² at the equator): below this a polygon has collapsed
_MIN_AREA = 1e-12


@dataclass
class Feature:
    """One validated row ready to be written."""

    code: str
    name_en: str
    name_ar: str
    population: int | None
    geom: BaseGeometry
    name_ar_from_en: bool = False


def import_boundaries(
    engine: Bind,
    region: str,
    path: str | Path,
    *,
    layer: str = "governorates",
    agency: str | None = None,
    fields: dict[str, str] | None = None,
    progress: bool | None = None,
) -> ImportReport:
    """Import one boundary or place layer of ``region`` from a vector file.

    Parameters
    ----------
    engine
        Database engine.
    region
        Region code (created with default names when it does not exist yet).
    path
        GeoJSON, GeoPackage or Shapefile, in any CRS.
    layer
        One of :data:`LAYERS`.
    agency
        Agency code; required for ``jurisdictions``, refused otherwise.
    fields
        Our column (code, name_en, name_ar, population) -> source attribute; columns
        not given use :data:`DEFAULT_FIELDS`.
    progress
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    ImportReport
        Imported, repaired and skipped counts with reasons. ``extra`` says how many
        rows took their Arabic name from the English one.

    Raises
    ------
    ImportFailed
        Missing, empty or unreadable file, wrong geometry type for the layer, unknown
        agency, or no usable feature; raised before any transaction.
    """
    if layer not in LAYERS:
        raise ImportFailed(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    agency_id = _layer_agency(engine, layer, agency)
    layer_name = f"jurisdictions:{agency}" if layer == "jurisdictions" else layer
    report = ImportReport(layer=layer_name, region=region, source=str(path))
    frame = read_vector(path, report=report)
    features = prepare_features(
        frame, layer=layer, fields=fields, report=report, source=Path(path).name
    )
    rows = progress_rows(features, desc=f"{region} {layer_name}", enabled=progress)
    with translate_integrity(layer_name), replace_layer(engine, report) as conn:
        rid = ensure_region(conn, region)
        report.imported = _write(conn, layer, rid, agency_id, rows)
        if layer == "governorates":
            update_region_geometry(conn, rid)
    return report


# -- reading -------------------------------------------------------------------------------
def read_vector(path: str | Path, *, report: ImportReport | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame in EPSG:4326.

    Raises
    ------
    ImportFailed
        Missing, empty or unreadable file; no CRS and coordinates that are not lon/lat.
    """
    file = require_file(path)
    try:
        frame = gpd.read_file(file, engine="pyogrio")
    except Exception as exc:  # pyogrio/GDAL raise many types for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportFailed(
            f"cannot read {file.name}: {reason}", details={"path": str(file)}
        ) from exc
    if len(frame) == 0:
        raise ImportFailed(f"no features in {file.name}", details={"path": str(file)})
    if _utf8_read_as_latin1(file, frame) and report is not None:
        report.extra["text_encoding"] = "UTF-8 (the .dbf declared Latin-1 or nothing)"
    return to_wgs84(frame, name=file.name, report=report)


def _utf8_read_as_latin1(file: Path, frame: gpd.GeoDataFrame) -> bool:
    """Re-decode a shapefile's text as UTF-8 where GDAL read UTF-8 bytes as Latin-1.

    A .dbf without a .cpg beside it is decoded by the code page its header declares,
    Latin-1 by default; many tools write UTF-8 anyway (the Doha roads: "Ø´Ø§Ø±Ø¹" for
    "شارع"). Only when every non-ASCII value of every text column turns back into valid
    UTF-8 is the frame changed (in place), so real Latin-1 text is left alone.
    """
    if file.suffix.lower() != ".shp" or file.with_suffix(".cpg").exists():
        return False
    fixed: dict[str, list[Any]] = {}
    for column in frame.columns:
        if column == frame.geometry.name or frame[column].dtype.kind not in "OUT":
            continue
        values = frame[column].tolist()
        if not any(isinstance(v, str) and not v.isascii() for v in values):
            continue
        try:
            fixed[column] = [
                v.encode("latin-1").decode("utf-8") if isinstance(v, str) else v for v in values
            ]
        except UnicodeError:
            return False
    for column, values in fixed.items():
        frame[column] = values
    return bool(fixed)


def to_wgs84(
    frame: gpd.GeoDataFrame, *, name: str, report: ImportReport | None = None
) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4326; a frame without CRS must already be in lon/lat."""
    if frame.crs is None:
        if not _looks_like_lonlat(frame):
            raise ImportFailed(
                f"{name} has no CRS and its coordinates are not "
                "longitude/latitude: add a .prj or reproject it"
            )
        if report is not None:
            report.extra["crs"] = "none given, coordinates are lon/lat: EPSG:4326 assumed"
        return frame.set_crs(SRID)
    if report is not None:
        report.extra["crs"] = frame.crs.to_string()
    if frame.crs.to_epsg() != SRID:
        try:
            frame = frame.to_crs(SRID)
        except Exception as exc:
            raise ImportFailed(
                f"cannot reproject {name} from {frame.crs} to EPSG:4326: {exc}"
            ) from exc
    return frame


def _looks_like_lonlat(frame: gpd.GeoDataFrame) -> bool:
    present = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    if present.empty:
        return True
    minx, miny, maxx, maxy = present.total_bounds
    return bool(-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90)


# -- validating ----------------------------------------------------------------------------
def prepare_features(
    frame: gpd.GeoDataFrame,
    *,
    layer: str,
    fields: dict[str, str] | None,
    report: ImportReport,
    source: str,
) -> list[Feature]:
    """Validated features of ``frame`` for ``layer``; problems are counted in ``report``.

    Raises
    ------
    ImportFailed
        Wrong geometry type for the layer, unknown field, or nothing usable.
    """
    polygonal = layer in POLYGON_LAYERS
    if polygonal:
        _require_polygons(frame, layer=layer, source=source)
    columns = resolve_fields(list(frame.columns), fields)
    features: list[Feature] = []
    seen: set[str] = set()
    fallback = 0
    for position, (_, record) in enumerate(frame.iterrows(), start=1):
        feature = _feature(record, columns, position=position, polygonal=polygonal, report=report)
        if feature is None:
            continue
        if feature.code in seen:
            report.skip("duplicate code")
            continue
        seen.add(feature.code)
        fallback += feature.name_ar_from_en
        features.append(feature)
    if not features:
        raise ImportFailed(
            f"no usable features in {source} for layer {layer} "
            f"({', '.join(f'{k}: {v}' for k, v in report.reasons.items())})"
        )
    if fallback:
        report.extra["no_arabic_name_english_used"] = fallback
    if columns["code"] is None:
        report.extra["codes"] = "no code attribute: feature order used"
    return features


def _require_polygons(frame: gpd.GeoDataFrame, *, layer: str, source: str) -> None:
    kinds = frame.geometry.dropna().geom_type.value_counts()
    if not any(kind in _POLYGONAL for kind in kinds.index):
        found = ", ".join(f"{k} ({v})" for k, v in kinds.items()) or "no geometry"
        raise ImportFailed(f"layer {layer} needs polygons, {source} has {found}")


def resolve_fields(columns: Sequence[str], fields: dict[str, str] | None) -> dict[str, str | None]:
    """Source column for each of our columns (None when the file has none)."""
    by_lower = {c.lower(): c for c in columns if c != "geometry"}
    given = dict(fields or {})
    unknown_targets = sorted(set(given) - set(DEFAULT_FIELDS))
    if unknown_targets:
        raise ImportFailed(
            f"unknown target field(s) {', '.join(unknown_targets)}; use {', '.join(DEFAULT_FIELDS)}"
        )
    resolved: dict[str, str | None] = {}
    for target, candidates in DEFAULT_FIELDS.items():
        if target in given:
            source = by_lower.get(given[target].lower())
            if source is None:
                raise ImportFailed(
                    f"field {given[target]!r} (for {target}) is not in the "
                    f"file; it has {', '.join(sorted(by_lower))}"
                )
            resolved[target] = source
        else:
            resolved[target] = next((by_lower[c] for c in candidates if c in by_lower), None)
    return resolved


def _feature(
    record: Any,
    columns: dict[str, str | None],
    *,
    position: int,
    polygonal: bool,
    report: ImportReport,
) -> Feature | None:
    geom, problem = clean_geometry(record.geometry, polygonal=polygonal)
    if geom is None:
        report.skip(problem or "bad geometry")
        return None
    code = _code(record.get(columns["code"])) if columns["code"] else str(position)
    if code is None:
        report.skip("no code")
        return None
    names = bilingual(
        record.get(columns["name_en"]) if columns["name_en"] else None,
        record.get(columns["name_ar"]) if columns["name_ar"] else None,
    )
    if names.ar_not_arabic:
        report.tally("name_ar_not_arabic")
    name_en, name_ar = names.en, names.ar
    if not name_en and not name_ar:
        report.skip("no name (en or ar)")
        return None
    population = _population(record.get(columns["population"])) if columns["population"] else None
    if problem is not None:  # kept after a repair; problem says why it was needed
        report.repaired += 1
        repairs = report.extra.setdefault("repairs", {})
        repairs[problem] = repairs.get(problem, 0) + 1
    return Feature(
        code=code,
        name_en=name_en or name_ar or "",
        name_ar=name_ar or name_en or "",
        population=population,
        geom=geom,
        name_ar_from_en=not name_ar,
    )


def clean_geometry(
    geom: BaseGeometry | None, *, polygonal: bool
) -> tuple[BaseGeometry | None, str | None]:
    """A usable 2-D geometry and what was done, or None and the reason it is rejected.

    Returns ``(geometry, None)`` when valid, ``(geometry, "repaired (why)")`` after a
    repair, ``(None, reason)`` when rejected. With ``polygonal`` the geometry is a MultiPolygon.
    """
    if not isinstance(geom, BaseGeometry) or geom.is_empty:  # a null can arrive as NaN
        return None, "no geometry"
    kind = geom.geom_type
    if polygonal and kind not in _POLYGONAL:
        return None, f"not a polygon ({kind})"
    geom = shapely.force_2d(geom)
    status = None
    if not geom.is_valid:
        if kind not in _POLYGONAL:
            return None, f"invalid {kind} (rejected)"
        why = shapely.is_valid_reason(geom).split("[")[0].strip().lower()
        geom = _polygonal_part(shapely.make_valid(geom))
        if geom is None:
            return None, f"invalid polygon ({why}), not repairable as a polygon (rejected)"
        status = f"repaired ({why})"
    if kind in _POLYGONAL and geom.area < _MIN_AREA:
        return None, "polygon without area (rejected)"
    if polygonal and geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    return geom, status


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygons of a repaired geometry, or None when nothing with an area is left."""
    if geom.geom_type in _POLYGONAL:
        polygons = [geom]
    else:
        polygons = [g for g in getattr(geom, "geoms", []) if g.geom_type in _POLYGONAL]
    if not polygons:
        return None
    parts = [p for g in polygons for p in getattr(g, "geoms", [g])]
    merged = MultiPolygon(parts) if len(parts) > 1 else parts[0]
    if merged.area < _MIN_AREA or not merged.is_valid:
        return None
    return merged


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    out = str(value).strip()
    return out or None


def _code(value: Any) -> str | None:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    return _text(value)


def _population(value: Any) -> int | None:
    raw = _text(value)
    if raw is None:
        return None
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        return None
    return int(number) if number >= 0 and math.isfinite(number) else None


# -- writing -------------------------------------------------------------------------------
def ewkb(geom: BaseGeometry) -> str:
    """Hex EWKB with SRID 4326, the text COPY accepts for a geometry column."""
    return str(shapely.to_wkb(shapely.set_srid(geom, SRID), hex=True, include_srid=True))


def progress_rows(features: list[Feature], *, desc: str, enabled: bool | None) -> Iterable[Feature]:
    return progress_bar(features, desc=desc, total=len(features), unit="feature", enabled=enabled)


def _write(
    conn: Connection, layer: str, rid: int, agency_id: int | None, features: Iterable[Feature]
) -> int:
    if layer == "governorates":
        return merge_rows(
            conn,
            "governorate",
            key=("region_id", "code"),
            columns=("region_id", "code", "name_en", "name_ar", "population", "geom"),
            rows=(
                (rid, f.code, f.name_en, f.name_ar, f.population, ewkb(f.geom)) for f in features
            ),
            scope="t.region_id = :rid",
            params={"rid": rid},
        )
    if layer == "jurisdictions":
        return merge_rows(
            conn,
            "jurisdiction",
            key=("region_id", "agency_id", "code"),
            columns=("region_id", "agency_id", "code", "name_en", "name_ar", "geom"),
            rows=((rid, agency_id, f.code, f.name_en, f.name_ar, ewkb(f.geom)) for f in features),
            scope="t.region_id = :rid AND t.agency_id = :aid",
            params={"rid": rid, "aid": agency_id},
        )
    kind = PLACE_LAYERS[layer]
    return merge_rows(
        conn,
        "place",
        key=("region_id", "kind", "code"),
        columns=("region_id", "kind", "code", "name_en", "name_ar", "population", "geom"),
        rows=(
            (rid, kind, f.code, f.name_en, f.name_ar, f.population, ewkb(f.geom)) for f in features
        ),
        scope="t.region_id = :rid AND t.kind = :kind",
        params={"rid": rid, "kind": kind},
    )


def merge_rows(
    conn: Connection,
    table: str,
    *,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    scope: str,
    params: dict[str, Any],
) -> int:
    """Make the rows of ``table`` within ``scope`` exactly ``rows``, matched on ``key``.

    Rows are bulk-copied into a temporary table; rows of the scope whose key is gone are
    deleted, the others upserted, so unchanged rows keep their ids. ``scope`` is SQL on
    the alias ``t`` of ``table``.
    """
    staging = f"_staging_{table}"
    cols = ", ".join(columns)
    conn.execute(text(f"DROP TABLE IF EXISTS {staging}"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
        )
    )
    count = copy_rows(conn, staging, list(columns), rows)
    match = " AND ".join(f"s.{k} = t.{k}" for k in key)
    conn.execute(
        text(
            f"DELETE FROM {table} t WHERE {scope} AND NOT EXISTS "
            f"(SELECT 1 FROM {staging} s WHERE {match})"
        ),
        params,
    )
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    conn.execute(
        text(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )
    )
    conn.execute(text(f"DROP TABLE {staging}"))
    return count


def update_region_geometry(conn: Connection, rid: int) -> None:
    """Set the region's outline to the union of its governorates."""
    conn.execute(
        text("""
        UPDATE region SET geom = (
          SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(geom)), 3))
          FROM governorate WHERE region_id = :rid)
        WHERE id = :rid
    """),
        {"rid": rid},
    )


@contextmanager
def translate_integrity(layer: str) -> Iterator[None]:
    """Turn a foreign-key refusal while replacing ``layer`` into :class:`ImportFailed`."""
    try:
        yield
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else "integrity error"
        raise ImportFailed(f"cannot replace {layer}: {reason}") from exc


# -- agencies and derived jurisdictions ----------------------------------------------------
def agency_id(conn: Connection, code: str) -> int:
    """Id of agency ``code``, or :class:`ImportFailed` naming the known ones."""
    row = conn.execute(text("SELECT id FROM agency WHERE code = :c"), {"c": code}).first()
    if row is None:
        known = conn.execute(text("SELECT string_agg(code, ', ' ORDER BY code) FROM agency"))
        raise ImportFailed(
            f"unknown agency {code!r} (known: {known.scalar() or 'none'}; "
            "import the catalogue first)"
        )
    return int(row[0])


def _layer_agency(engine: Bind, layer: str, agency: str | None) -> int | None:
    if layer != "jurisdictions":
        if agency is not None:
            raise ImportFailed(f"--agency applies to jurisdictions only, not {layer}")
        return None
    if not agency:
        raise ImportFailed("jurisdictions need an agency (--agency CODE)")
    with reading(engine) as conn:
        return agency_id(conn, agency)


def derive_jurisdictions(engine: Bind, region: str, *, agency: str) -> ImportReport:
    """Give ``agency`` one jurisdiction per governorate of ``region``.

    We have no real agency jurisdiction polygons for the demo regions; this stands in
    for them until real ones are imported with ``najda import boundaries --layer
    jurisdictions --agency CODE``.

    Raises
    ------
    ImportFailed
        Unknown agency, or the region has no governorates yet.
    """
    with reading(engine) as conn:
        aid = agency_id(conn, agency)
        count = conn.execute(
            text(
                "SELECT count(*) FROM governorate g JOIN region r ON r.id = g.region_id "
                "WHERE r.code = :code"
            ),
            {"code": region},
        ).scalar_one()
    if not count:
        raise ImportFailed(
            f"cannot derive {agency} jurisdictions: region {region} has no governorates"
        )
    report = ImportReport(
        layer=f"jurisdictions:{agency}", region=region, source="derived from governorates"
    )
    with translate_integrity(report.layer), replace_layer(engine, report) as conn:
        rid = ensure_region(conn, region)
        conn.execute(text("DROP TABLE IF EXISTS _staging_jurisdiction"))
        conn.execute(
            text("""
            CREATE TEMP TABLE _staging_jurisdiction ON COMMIT DROP AS
            SELECT region_id, CAST(:aid AS integer) AS agency_id, code, name_en, name_ar, geom
            FROM governorate WHERE region_id = :rid
        """),
            {"aid": aid, "rid": rid},
        )
        conn.execute(
            text("""
            DELETE FROM jurisdiction t WHERE t.region_id = :rid AND t.agency_id = :aid
              AND NOT EXISTS (SELECT 1 FROM _staging_jurisdiction s WHERE s.code = t.code)
        """),
            {"aid": aid, "rid": rid},
        )
        report.imported = conn.execute(
            text("""
            INSERT INTO jurisdiction (region_id, agency_id, code, name_en, name_ar, geom)
            SELECT region_id, agency_id, code, name_en, name_ar, geom FROM _staging_jurisdiction
            ON CONFLICT (region_id, agency_id, code) DO UPDATE SET
              name_en = EXCLUDED.name_en, name_ar = EXCLUDED.name_ar, geom = EXCLUDED.geom
        """)
        ).rowcount
        conn.execute(text("DROP TABLE _staging_jurisdiction"))
    report.extra["derived"] = "one per governorate (no real agency areas available)"
    return report
