"""Typed settings read from the environment.

Every setting has a ``NAJDA_*`` variable (``DATABASE_URL`` keeps its usual name).
Nothing is read at import time: call :func:`load_settings` where settings are needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working folder."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "geo_data").is_dir():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """What the product needs to know about its surroundings.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of the database. Empty means the embedded cluster.
    home
        Folder for local state: the embedded cluster, logs, caches.
    data_dir
        Folder of shared source data that region manifests refer to.
    geo_data_dir
        Folder of project-authored manifests and catalogue files.
    pg_port
        Port number of the embedded cluster (its socket lives in its own folder;
        it never listens on TCP).
    snap_limit_m
        A point farther than this from any road is refused by routing.
    position_max_age_s
        A unit whose last fix is older than this is stale and not recommended.
    secret_key
        Key that signs login sessions (else one kept in ``home``).
    online
        Whether region imports may download parts whose files are missing.
    tile_url, tile_attribution
        An optional raster tile layer under the map; the map draws its own base without.
    siting_time_limit_s
        The station-siting solver stops after this long when asked through the API.
    straight_line_speed_kph, straight_line_detour
        Where road routing cannot answer (an incident farther than ``snap_limit_m``
        from every road), travel times are estimated as the great-circle distance
        times the detour factor, driven at this speed; such ETAs are flagged
        ``straight_line`` wherever they are shown.
    region
        The region the console, planner and map show when the address names none
        (``?region=CODE`` wins; empty or not loaded means the first region by code).
    """

    database_url: str = ""
    home: Path = field(default_factory=lambda: project_root() / ".najda")
    data_dir: Path = field(default_factory=lambda: project_root().parent / "shared" / "data")
    geo_data_dir: Path = field(default_factory=lambda: project_root() / "geo_data")
    pg_port: int = 54329
    snap_limit_m: float = 500.0
    position_max_age_s: float = 600.0
    secret_key: str = ""
    online: bool = True
    tile_url: str = ""
    tile_attribution: str = ""
    siting_time_limit_s: float = 10.0
    straight_line_speed_kph: float = 50.0
    straight_line_detour: float = 1.4
    region: str = ""

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


_ENV = {
    "database_url": "DATABASE_URL",
    "home": "NAJDA_HOME",
    "data_dir": "NAJDA_DATA_DIR",
    "geo_data_dir": "NAJDA_GEO_DATA_DIR",
    "pg_port": "NAJDA_PG_PORT",
    "snap_limit_m": "NAJDA_SNAP_LIMIT_M",
    "position_max_age_s": "NAJDA_POSITION_MAX_AGE_S",
    "secret_key": "NAJDA_SECRET_KEY",
    "online": "NAJDA_ONLINE",
    "tile_url": "NAJDA_TILE_URL",
    "tile_attribution": "NAJDA_TILE_ATTRIBUTION",
    "siting_time_limit_s": "NAJDA_SITING_TIME_LIMIT_S",
    "straight_line_speed_kph": "NAJDA_STRAIGHT_LINE_SPEED_KPH",
    "straight_line_detour": "NAJDA_STRAIGHT_LINE_DETOUR",
    "region": "NAJDA_REGION",
}


def setting_variables() -> dict[str, str]:
    """Map of setting name to its environment variable (documented in the README)."""
    return dict(_ENV)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, object] = {}
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        current = getattr(defaults, name)
        if isinstance(current, bool):
            values[name] = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif isinstance(current, int):
            values[name] = int(raw)
        elif isinstance(current, float):
            values[name] = float(raw)
        elif isinstance(current, Path):
            values[name] = Path(raw).expanduser().resolve()
        else:
            values[name] = raw
    return replace(defaults, **values)  # type: ignore[arg-type]
