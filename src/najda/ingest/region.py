"""Build a whole region from its manifest, ``geo_data/regions/<code>.toml``.

A manifest names the region and lists its layers in import order::

    [region]
    code = "riyadh"
    name_en = "Riyadh Region"
    name_ar = "منطقة الرياض"
    timezone = "Asia/Riyadh"
    incident_prefix = "RYD"

    [[layers]]
    layer = "governorates"             # governorates, jurisdictions, neighbourhoods,
    file = "boundaries/....geojson"    # localities, cities, roads or stations
    fields = { population = "population" }     # optional, boundaries only
    url = "https://..."                # optional: downloaded when the file is missing
    online = { place = "..." }         # optional, roads only: osmnx download of a place

    [[layers]]
    layer = "jurisdictions"            # or derived from the governorate polygons
    derive_from = "governorates"
    agencies = ["police", "civil_defence"]

    [[agency]]                         # optional: the region's own agencies and names
    code = "red_crescent"              # (see najda.ingest.agencies)
    name_en = "..."
    name_ar = "..."

Files are relative to ``NAJDA_DATA_DIR``. Online sources are used only when the file is
missing and ``settings.online`` is true. Every source is resolved (and downloads done)
before anything is written, so a missing file fails the import with nothing changed.
"""

from __future__ import annotations

import re
import shutil
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from najda.config import Settings
from najda.errors import ImportFailed
from najda.ingest.agencies import RegionAgency, import_region_agencies, parse_region_agencies
from najda.ingest.base import Bind, ImportReport, ensure_region, unit_of_work
from najda.ingest.boundaries import LAYERS, derive_jurisdictions, import_boundaries
from najda.ingest.catalogue import import_catalogue, load_catalogue
from najda.ingest.stations import import_stations

_REGION_KEYS = {"code", "name_en", "name_ar", "timezone", "incident_prefix"}
_LAYER_KEYS = {
    "layer",
    "file",
    "url",
    "online",
    "fields",
    "agency",
    "agencies",
    "derive_from",
    "source",
    "licence",
}
_KINDS = (*LAYERS, "roads", "stations")
_CODE = re.compile(r"^[a-z][a-z0-9_-]*$")
_DOWNLOAD_TIMEOUT_S = 120


@dataclass
class LayerSpec:
    """One ``[[layers]]`` entry of a manifest, resolved to where its data comes from."""

    layer: str
    file: Path | None = None
    online: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    code: str
    region: dict[str, str]
    catalogue_dir: Path
    layers: list[LayerSpec]
    agencies: list[RegionAgency] = field(default_factory=list)


def import_region(engine: Engine, settings: Settings, code: str) -> Iterator[ImportReport]:
    """Import every layer of region ``code``, yielding each layer's report in turn.

    Parameters
    ----------
    engine
        Database engine.
    settings
        Where the data (``data_dir``) and manifests (``geo_data_dir``) are, and whether
        online sources may be used.
    code
        Region code, the manifest's file name without ``.toml``.

    Yields
    ------
    ImportReport
        The region row, the catalogue, the region's agencies, then one report per layer.

    Raises
    ------
    ImportFailed
        A missing or invalid manifest, or a layer whose file is missing and that has no
        usable online source; raised before anything is written.
    """
    manifest = load_manifest(settings, code)
    check_agencies(manifest)
    resolve_sources(manifest, settings)
    # one transaction for the whole region (each layer in a savepoint of it): a layer
    # that fails leaves every layer, the earlier ones too, as it was
    with engine.begin() as conn:
        yield _import_region_row(conn, manifest)
        yield import_catalogue(conn, manifest.catalogue_dir)
        yield import_region_agencies(conn, manifest.code, manifest.agencies)
        for spec in manifest.layers:
            yield from _import_layer(conn, manifest.code, spec)


def manifest_path(settings: Settings, code: str) -> Path:
    if not _CODE.match(code):
        raise ImportFailed(f"bad region code {code!r}")
    return settings.geo_data_dir / "regions" / f"{code}.toml"


def load_manifest(settings: Settings, code: str) -> Manifest:
    """The manifest of region ``code``, checked for shape (not yet for files)."""
    path = manifest_path(settings, code)
    if not path.is_file():
        raise ImportFailed(
            f"no manifest for region {code}: {path} not found", details={"path": str(path)}
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(f"cannot read manifest {path.name}: {exc}") from exc
    region = _check_region(data.get("region"), code=code, name=path.name)
    layers = [_check_layer(entry, name=path.name) for entry in data.get("layers", [])]
    if not layers:
        raise ImportFailed(f"manifest {path.name} lists no [[layers]]")
    unknown = sorted(set(data) - {"region", "layers", "catalogue", "agency"})
    if unknown:
        raise ImportFailed(f"manifest {path.name}: unknown table(s) {unknown}")
    catalogue_dir = settings.geo_data_dir / str(data.get("catalogue", "catalogue"))
    return Manifest(
        code=code,
        region=region,
        catalogue_dir=catalogue_dir,
        layers=layers,
        agencies=parse_region_agencies(data.get("agency"), source=f"manifest {path.name}"),
    )


def check_agencies(manifest: Manifest) -> None:
    """The manifest's agencies are catalogue agencies, and its derived jurisdictions are
    for agencies of the region.

    Raises
    ------
    ImportFailed
        Naming the first agency that is neither.
    """
    known = load_catalogue(manifest.catalogue_dir).codes("agency")
    listed = [a.code for a in manifest.agencies]
    strangers = [c for c in listed if c not in known]
    if strangers:
        raise ImportFailed(
            f"region {manifest.code}: agency {', '.join(strangers)} is not in the catalogue"
        )
    derived = {a for spec in manifest.layers for a in spec.options.get("agencies", [])}
    outside = sorted(derived - set(listed)) if listed else []
    if outside:
        raise ImportFailed(
            f"region {manifest.code}: jurisdictions for {', '.join(outside)}, "
            "which the region's [[agency]] list does not name"
        )


def _check_region(region: Any, *, code: str, name: str) -> dict[str, str]:
    if not isinstance(region, dict):
        raise ImportFailed(f"manifest {name} has no [region] table")
    unknown = set(region) - _REGION_KEYS
    if unknown:
        raise ImportFailed(f"manifest {name}: unknown [region] key(s) {sorted(unknown)}")
    if region.get("code", code) != code:
        raise ImportFailed(f"manifest {name} describes region {region['code']!r}, not {code!r}")
    for key in ("name_en", "name_ar"):
        if not isinstance(region.get(key), str) or not region[key].strip():
            raise ImportFailed(f"manifest {name}: [region] needs {key}")
    return {k: str(v) for k, v in region.items() if k != "code"}


def _check_layer(entry: Any, *, name: str) -> LayerSpec:
    if not isinstance(entry, dict) or entry.get("layer") not in _KINDS:
        got = entry.get("layer") if isinstance(entry, dict) else entry
        raise ImportFailed(f"manifest {name}: layer {got!r} is not one of {', '.join(_KINDS)}")
    layer = entry["layer"]
    unknown = set(entry) - _LAYER_KEYS
    if unknown:
        raise ImportFailed(f"manifest {name}: layer {layer}: unknown key(s) {sorted(unknown)}")
    if "derive_from" in entry:
        if (
            layer != "jurisdictions"
            or entry["derive_from"] != "governorates"
            or not entry.get("agencies")
        ):
            raise ImportFailed(
                f"manifest {name}: only jurisdictions can be derived, from "
                "governorates, for a list of agencies"
            )
        return LayerSpec(layer=layer, options={"agencies": list(entry["agencies"])})
    if "file" not in entry:
        raise ImportFailed(f"manifest {name}: layer {layer} needs a file")
    if "online" in entry and layer != "roads":
        raise ImportFailed(
            f"manifest {name}: layer {layer}: 'online' is for roads; "
            "use 'url' for a downloadable file"
        )
    online = entry.get("online")
    if online is not None and (not isinstance(online, dict) or set(online) != {"place"}):
        raise ImportFailed(
            f'manifest {name}: layer {layer}: online must be {{ place = "osmnx place name" }}'
        )
    options = {k: entry[k] for k in ("fields", "agency", "url") if k in entry}
    return LayerSpec(
        layer=layer, file=Path(entry["file"]), online=entry.get("online"), options=options
    )


# -- sources -------------------------------------------------------------------------------
def resolve_sources(manifest: Manifest, settings: Settings) -> None:
    """Point every layer at a local file, or at its online source when allowed.

    Files come from ``settings.data_dir``; a missing file with a ``url`` is downloaded
    into ``geo_data/cache/<region>/`` (when online), a missing roads file with an
    ``online`` place is left for osmnx.

    Raises
    ------
    ImportFailed
        Naming the first file that is missing and cannot be fetched.
    """
    for spec in manifest.layers:
        if spec.file is None:
            continue
        local = settings.data_dir / spec.file
        cached = settings.geo_data_dir / "cache" / manifest.code / spec.file.name
        if local.is_file():
            spec.file = local
        elif cached.is_file():
            spec.file = cached
        elif settings.online and spec.options.get("url"):
            spec.file = _download(str(spec.options["url"]), cached)
        elif settings.online and spec.online:
            spec.file = None
        else:
            how = "" if settings.online else " (offline: no download attempted)"
            raise ImportFailed(
                f"region {manifest.code}: {spec.layer} file not found: {local}{how}",
                details={"path": str(local)},
            )
    if any(spec.layer == "roads" for spec in manifest.layers):
        _roads_module()


def _download(url: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with (
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
            partial.open("wb") as out,
        ):
            shutil.copyfileobj(response, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ImportFailed(f"cannot download {url}: {exc}") from exc
    partial.replace(target)
    return target


def _roads_module() -> Any:
    try:
        from najda.ingest import roads
    except ImportError as exc:
        raise ImportFailed(f"the roads importer is not available: {exc}") from exc
    return roads


# -- importing -----------------------------------------------------------------------------
def _import_region_row(engine: Bind, manifest: Manifest) -> ImportReport:
    region = manifest.region
    with unit_of_work(engine) as conn:
        ensure_region(
            conn,
            manifest.code,
            name_en=region["name_en"],
            name_ar=region["name_ar"],
            timezone=region.get("timezone"),
            incident_prefix=region.get("incident_prefix"),
        )
    report = ImportReport(
        layer="region", region=manifest.code, source=f"regions/{manifest.code}.toml", imported=1
    )
    report.extra["name"] = f"{region['name_en']} / {region['name_ar']}"
    return report


def _import_layer(engine: Bind, region: str, spec: LayerSpec) -> Iterator[ImportReport]:
    if "agencies" in spec.options:
        for agency in spec.options["agencies"]:
            yield derive_jurisdictions(engine, region, agency=agency)
        return
    yield _LAYER_IMPORTERS.get(spec.layer, _boundaries)(engine, region, spec)


def _roads(engine: Bind, region: str, spec: LayerSpec) -> ImportReport:
    roads = _roads_module()
    if spec.file is not None:
        report: ImportReport = roads.import_roads_file(engine, region, spec.file)
        return report
    place = str((spec.online or {})["place"])
    report = roads.import_roads_osmnx(engine, region, place=place)
    return report


def _stations(engine: Bind, region: str, spec: LayerSpec) -> ImportReport:
    return import_stations(engine, region, _file(spec), agency=spec.options.get("agency"))


def _boundaries(engine: Bind, region: str, spec: LayerSpec) -> ImportReport:
    return import_boundaries(
        engine,
        region,
        _file(spec),
        layer=spec.layer,
        agency=spec.options.get("agency"),
        fields=spec.options.get("fields"),
    )


def _file(spec: LayerSpec) -> Path:
    if spec.file is None:
        raise ImportFailed(f"layer {spec.layer} has no file and no online source")
    return spec.file


_LAYER_IMPORTERS: dict[str, Callable[[Bind, str, LayerSpec], ImportReport]] = {
    "roads": _roads,
    "stations": _stations,
}
