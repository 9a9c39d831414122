"""Place search for the dispatcher: ``GET /api/v1/search?q=``.

Finds neighbourhoods and localities (the ``place`` table), named roads (``road_edge``
names, one result per road name) and stations, by Arabic or English name, and answers
with a point to fly to (and a bounding box when the feature has an extent).

Matching forgives what callers and call-takers type differently: case, Arabic
diacritics and tatweel, the forms of alef, taa marbuta / haa and alef maqsura / yaa, and
hyphens or dots between words ("Al-Malqa", "al malqa", "الملقا", "ملقا" all find الملقا).
Ranked: exact name, then name start, then a word start, then anywhere; then by kind
(neighbourhood, locality, road, station) and shorter names first.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import Engine, text

from najda.errors import InvalidInput, NotFound
from najda.web import params as p
from najda.web.api import bp
from najda.web.api.auth import authorized
from najda.web.state import engine

MAX_QUERY = 100
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
KINDS = ("neighbourhood", "locality", "road", "station")

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_SEPARATORS = re.compile(r"[\s\-_.,'’`/]+")
_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"}
)

# The same folding in SQL, applied to stored names (kept in step with ``normalise``).
_SQL_FOLD = (
    "btrim(regexp_replace(translate(lower(regexp_replace(coalesce({col}, ''), "
    "'[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]', '', 'g')), "
    "'أإآٱةىؤئ', 'ااااهيوي'), '[[:space:]\\-_.,''’`/]+', ' ', 'g'))"
)


def normalise(query: str) -> str:
    """The folded form of a name or a query (see the module docstring)."""
    folded = _DIACRITICS.sub("", query).lower().translate(_FOLD)
    return _SEPARATORS.sub(" ", folded).strip()


def _fold(col: str) -> str:
    return _SQL_FOLD.format(col=col)


_CANDIDATES = f"""
WITH candidates AS (
    SELECT 'place' AS source, pl.kind, pl.id::text AS key, pl.name_en, pl.name_ar,
           r.code AS region, NULL::text AS agency, pl.geom AS geom
    FROM place pl JOIN region r ON r.id = pl.region_id
    WHERE (CAST(:region AS text) IS NULL OR r.code = :region)
      AND ({_fold("pl.name_en")} LIKE :pattern OR {_fold("pl.name_ar")} LIKE :pattern)
  UNION ALL
    SELECT 'road', 'road', min(e.id)::text, e.name_en, e.name_ar, r.code, NULL,
           ST_Collect(e.geom)
    FROM road_edge e JOIN region r ON r.id = e.region_id
    WHERE (e.name_en IS NOT NULL OR e.name_ar IS NOT NULL)
      AND (CAST(:region AS text) IS NULL OR r.code = :region)
      AND ({_fold("e.name_en")} LIKE :pattern OR {_fold("e.name_ar")} LIKE :pattern)
    GROUP BY e.name_en, e.name_ar, r.code
  UNION ALL
    SELECT 'station', 'station', s.id::text, s.name_en, s.name_ar, r.code, a.code, s.geom
    FROM station s JOIN region r ON r.id = s.region_id
    LEFT JOIN agency a ON a.id = s.agency_id
    WHERE (CAST(:region AS text) IS NULL OR r.code = :region)
      AND ({_fold("s.name_en")} LIKE :pattern OR {_fold("s.name_ar")} LIKE :pattern)
), scored AS (
    SELECT c.*, least(
        CASE WHEN {_fold("c.name_en")} = :q THEN 0
             WHEN {_fold("c.name_en")} LIKE :prefix
               OR {_fold("c.name_en")} LIKE :al_prefix THEN 1
             WHEN {_fold("c.name_en")} LIKE :word THEN 2 ELSE 3 END,
        CASE WHEN {_fold("c.name_ar")} = :q THEN 0
             WHEN {_fold("c.name_ar")} LIKE :prefix
               OR {_fold("c.name_ar")} LIKE :al_prefix THEN 1
             WHEN {_fold("c.name_ar")} LIKE :word THEN 2 ELSE 3 END) AS rank
    FROM candidates c
    WHERE CAST(:kinds AS text[]) IS NULL OR c.kind = ANY(:kinds)
)
SELECT source, kind, key, name_en, name_ar, region, agency, rank,
       ST_X(pt) AS lon, ST_Y(pt) AS lat,
       CASE WHEN GeometryType(geom) IN ('POINT') THEN NULL
            ELSE ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] END AS bbox
FROM (
    SELECT s.*, CASE
        WHEN GeometryType(s.geom) = 'POINT' THEN s.geom
        -- a road: the point of the road nearest its middle, so the pin lands on it
        WHEN s.kind = 'road' THEN ST_ClosestPoint(s.geom, ST_Centroid(s.geom))
        ELSE ST_PointOnSurface(s.geom) END AS pt
    FROM scored s
    ORDER BY s.rank,
             array_position(ARRAY['neighbourhood', 'locality', 'road', 'station'], s.kind),
             length(coalesce(s.name_en, s.name_ar, '')), s.key
    LIMIT :limit
) found
ORDER BY rank, array_position(ARRAY['neighbourhood', 'locality', 'road', 'station'], kind),
         length(coalesce(name_en, name_ar, '')), key
"""


def _like_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_places(
    db: Engine,
    query: str,
    *,
    region: str | None = None,
    kinds: list[str] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """Named places matching ``query`` (see the module docstring), best first."""
    q = normalise(query)
    if not q:
        return []
    escaped = _like_escape(q)
    params = {
        "q": q,
        "pattern": f"%{escaped}%",
        "prefix": f"{escaped}%",
        "word": f"% {escaped}%",
        # the Arabic article: "ملقا" starts "الملقا" as surely as "malqa" does
        "al_prefix": f"ال{escaped}%",
        "region": region,
        "kinds": kinds,
        "limit": limit,
    }
    with db.connect() as conn:
        if (
            region is not None
            and conn.execute(text("SELECT 1 FROM region WHERE code = :c"), {"c": region}).first()
            is None
        ):
            raise NotFound(
                f"No region with code {region!r} is loaded.",
                code="unknown_region",
                details={"region": region},
            )
        rows = conn.execute(text(_CANDIDATES), params).mappings().all()
    return [_result(r) for r in rows]


def _result(row: Any) -> dict[str, Any]:
    bbox = [round(float(v), 6) for v in row["bbox"]] if row["bbox"] else None
    kind = row["kind"]
    return {
        "kind": kind,
        "id": f"{row['source']}:{row['key']}",
        "name_en": row["name_en"] or row["name_ar"],
        "name_ar": row["name_ar"] or row["name_en"],
        "region": row["region"],
        "agency": row["agency"],
        "lon": round(float(row["lon"]), 6),
        "lat": round(float(row["lat"]), 6),
        "bbox": bbox,
        "match": ("exact", "prefix", "word", "contains")[int(row["rank"])],
    }


def _kinds(raw: str | None) -> list[str] | None:
    if raw is None or not raw.strip():
        return None
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InvalidInput(
            "unknown kinds",
            details={"parameter": "kinds", "unknown": unknown, "known": list(KINDS)},
        )
    return kinds


@bp.get("/search")
def search() -> Response:
    """Places to fly to: ``q`` (Arabic or English), ``kinds``, ``region``, ``limit``."""
    authorized("read")
    args = request.args
    query = args.get("q", "")
    if not query.strip():
        raise InvalidInput("q must name a place (Arabic or English)", details={"parameter": "q"})
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"q is longer than {MAX_QUERY} characters", details={"parameter": "q"})
    results = search_places(
        engine(),
        query,
        region=p.parse_region(args.get("region")),
        kinds=_kinds(args.get("kinds")),
        limit=p.parse_int(
            args.get("limit"), name="limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT
        ),
    )
    return jsonify({"query": query, "normalised": normalise(query), "results": results})
