"""Response-time KPIs from the incident history, against standards and settable targets.

Stages (seconds), from each incident's own timestamps
-----------------------------------------------------
* ``call_handling``: call answered (``incident_call.answered_at``) -> incident created,
  classified (``received_at``); unknown when the telephony time is missing;
* ``dispatch``: ``received_at`` -> first unit alerted (``dispatched_at``);
* ``turnout``: ``dispatched_at`` -> first unit moving (``en_route_at``);
* ``travel``: ``en_route_at`` -> first unit on scene (``on_scene_at``);
* ``response``: call answered (else ``received_at``) -> first unit on scene.

Incident timestamps are those of its first unit, so an incident counts for the agency of
its *first assigned unit* (its lead agency). Only incidents that reached the scene
(``on_scene_at`` set, not cancelled) count. Percentiles are numpy's linear interpolation;
a stage's p90 within its target is the same as 90 % of incidents within it.

Standards: NFPA 1710 (travel of the first engine within 240 s for 90 % of fire incidents,
lead agency civil defence) and the urban ambulance standard (response within 8:59, 539 s,
for 90 %, lead agency Red Crescent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from najda.errors import InvalidInput

STAGES = ("call_handling", "dispatch", "turnout", "travel", "response")
DIMENSIONS = ("all", "governorate", "agency", "priority", "hour", "category")
DEFAULT_TZ = "Asia/Riyadh"


@dataclass(frozen=True)
class Standard:
    code: str
    name_en: str
    name_ar: str
    stage: str
    target_s: float
    fraction: float
    agency: str | None  # applies to incidents led by this agency (None: all)


STANDARDS: tuple[Standard, ...] = (
    Standard(
        "nfpa1710_travel",
        "NFPA 1710: first engine travel ≤ 240 s (90 %)",
        "NFPA 1710: وصول أول آلية إطفاء خلال 240 ثانية (90٪)",
        "travel",
        240.0,
        0.9,
        "civil_defence",
    ),
    Standard(
        "ems_urban_response",
        "Urban ambulance response ≤ 8:59 (90 %)",
        "استجابة الإسعاف الحضري خلال 8:59 (90٪)",
        "response",
        539.0,
        0.9,
        "red_crescent",
    ),
)

_HISTORY_SQL = """
    SELECT i.id, i.number, i.priority, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           t.code AS type, t.category, g.name_en AS governorate, g.name_ar AS governorate_ar,
           c.answered_at, i.received_at, i.dispatched_at, i.en_route_at, i.on_scene_at,
           lead.agency, r.timezone
    FROM incident i
    JOIN region r ON r.id = i.region_id
    JOIN incident_type t ON t.id = i.incident_type_id
    LEFT JOIN governorate g ON g.id = i.governorate_id
    LEFT JOIN incident_call c ON c.incident_id = i.id
    LEFT JOIN LATERAL (
        SELECT a.code AS agency FROM assignment s JOIN unit u ON u.id = s.unit_id
        JOIN agency a ON a.id = u.agency_id WHERE s.incident_id = i.id
        ORDER BY s.assigned_at, s.id LIMIT 1) lead ON true
    WHERE r.code = :region AND i.on_scene_at IS NOT NULL AND i.status <> 'cancelled'
      AND (CAST(:since AS timestamptz) IS NULL OR i.received_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR i.received_at < :until)
    ORDER BY i.received_at, i.id
"""


def load_history(
    engine: Engine, region: str, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Incidents that reached the scene, one row each, with their stages in seconds."""
    with engine.connect() as conn:
        rows = (
            conn.execute(text(_HISTORY_SQL), {"region": region, "since": since, "until": until})
            .mappings()
            .all()
        )
    frame = pd.DataFrame(
        [dict(r) for r in rows],
        columns=[
            "id",
            "number",
            "priority",
            "lon",
            "lat",
            "type",
            "category",
            "governorate",
            "governorate_ar",
            "answered_at",
            "received_at",
            "dispatched_at",
            "en_route_at",
            "on_scene_at",
            "agency",
            "timezone",
        ],
    )
    return with_stages(frame)


def _seconds(later: pd.Series, earlier: pd.Series) -> pd.Series:
    later = pd.to_datetime(later, utc=True)
    earlier = pd.to_datetime(earlier, utc=True)
    return (later - earlier).dt.total_seconds()


def with_stages(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the stage columns (seconds) and the local hour of the call."""
    f = frame.copy()
    start = f["answered_at"].where(f["answered_at"].notna(), f["received_at"])
    f["call_handling"] = _seconds(f["received_at"], f["answered_at"])
    f["dispatch"] = _seconds(f["dispatched_at"], f["received_at"])
    f["turnout"] = _seconds(f["en_route_at"], f["dispatched_at"])
    f["travel"] = _seconds(f["on_scene_at"], f["en_route_at"])
    f["response"] = _seconds(f["on_scene_at"], start)
    zone = f["timezone"].iloc[0] if len(f) and f["timezone"].notna().any() else DEFAULT_TZ
    received = pd.to_datetime(f["received_at"], utc=True)
    f["hour"] = received.dt.tz_convert(zone).dt.hour if len(f) else pd.Series(dtype=int)
    f["all"] = "all"
    f["agency"] = f["agency"].fillna("none")
    f["governorate"] = f["governorate"].fillna("(outside)")
    return f


@dataclass(frozen=True)
class KpiReport:
    dimension: str
    rows: list[dict[str, Any]]
    standards: list[dict[str, Any]]
    targets: dict[str, float] = field(default_factory=dict)
    incidents: int = 0


def check_targets(targets: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for stage, value in (targets or {}).items():
        if stage not in STAGES:
            raise InvalidInput(
                f"unknown stage for a target: {stage}",
                details={"stage": stage, "known": list(STAGES)},
            )
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InvalidInput(
                "a target must be a positive number of seconds", details={"stage": stage}
            )
        out[stage] = float(value)
    return out


def kpis(
    frame: pd.DataFrame,
    *,
    by: str = "all",
    targets: Mapping[str, float] | None = None,
    fraction: float = 0.9,
) -> KpiReport:
    """p50 and p90 of every stage per group of ``by``, with the share within each target.

    Parameters
    ----------
    frame
        :func:`load_history` (or :func:`with_stages`) output.
    by
        One of :data:`DIMENSIONS`.
    targets
        Stage -> seconds; each row gets ``<stage>_within`` (share of incidents within
        it) and ``<stage>_meets`` (share >= ``fraction``).
    """
    if by not in DIMENSIONS:
        raise InvalidInput(
            f"unknown KPI dimension: {by}", details={"by": by, "known": list(DIMENSIONS)}
        )
    if not 0 < fraction <= 1:
        raise InvalidInput("fraction must be in (0, 1]", details={"fraction": fraction})
    goals = check_targets(targets)
    rows = []
    for key, group in frame.groupby(by, sort=True) if len(frame) else []:
        row: dict[str, Any] = {by: _plain(key), "incidents": len(group)}
        for stage in STAGES:
            values = group[stage].dropna().to_numpy(dtype=float)
            row[f"{stage}_n"] = int(values.size)
            row[f"{stage}_p50"] = _pct(values, 50)
            row[f"{stage}_p90"] = _pct(values, 90)
            if stage in goals:
                share = float((values <= goals[stage]).mean()) if values.size else None
                row[f"{stage}_within"] = share
                row[f"{stage}_meets"] = None if share is None else share >= fraction
        rows.append(row)
    return KpiReport(
        dimension=by,
        rows=rows,
        standards=standards_report(frame),
        targets=goals,
        incidents=len(frame),
    )


def standards_report(
    frame: pd.DataFrame, standards: Sequence[Standard] = STANDARDS
) -> list[dict[str, Any]]:
    """Each standard against the incidents it applies to."""
    out = []
    for std in standards:
        part = frame if std.agency is None else frame[frame["agency"] == std.agency]
        values = part[std.stage].dropna().to_numpy(dtype=float) if len(part) else np.zeros(0)
        share = float((values <= std.target_s).mean()) if values.size else None
        out.append(
            {
                "code": std.code,
                "name_en": std.name_en,
                "name_ar": std.name_ar,
                "stage": std.stage,
                "target_s": std.target_s,
                "fraction": std.fraction,
                "agency": std.agency,
                "incidents": int(values.size),
                "p90_s": _pct(values, 90),
                "within": share,
                "meets": None if share is None else share >= std.fraction,
            }
        )
    return out


def _pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values.size else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
