"""``GET /api/v1/search``: places, roads and stations by Arabic or English name, on the
imported Riyadh region, through the real app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import app_for, sign_in
from najda.web.api.search import normalise


@pytest.fixture
def client(riyadh_engine: Engine) -> Iterator[Any]:
    app = app_for(riyadh_engine)
    yield sign_in(app.test_client(), riyadh_engine, role="dispatcher")
    app.extensions["najda"].engine.dispose()


def search(client: Any, q: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    results: list[dict[str, Any]] = response.get_json()["results"]
    return results


@pytest.mark.parametrize("query", ["Al Malqa", "al-malqa", "MALQA", "الملقا", "ملقا", "المَلقا"])
def test_a_neighbourhood_by_either_name_and_spelling(client: Any, query: str) -> None:
    first = search(client, query)[0]
    assert (first["kind"], first["name_en"], first["name_ar"]) == (
        "neighbourhood",
        "Al Malqa",
        "الملقا",
    )
    assert first["match"] in ("exact", "prefix", "word")
    west, south, east, north = first["bbox"]
    assert west <= first["lon"] <= east and south <= first["lat"] <= north


def test_a_road_is_one_result_with_a_point_on_it(client: Any, riyadh_engine: Engine) -> None:
    roads = search(client, "طريق التخصصي", kinds="road")
    names = [r["name_ar"] for r in roads]
    assert names[0] == "طريق التخصصي"
    assert len(names) == len(set(names))  # one result per road, not one per edge
    first = roads[0]
    assert first["name_en"] == "Al Takhassousi Road"
    with riyadh_engine.connect() as conn:
        metres = conn.execute(
            text("""
            SELECT min(ST_Distance(geom::geography,
                                   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography))
            FROM road_edge WHERE name_ar = :name"""),
            {"lon": first["lon"], "lat": first["lat"], "name": first["name_ar"]},
        ).scalar_one()
    assert metres < 0.5  # the pin lands on the road itself
    english = search(client, "takhassousi", kinds="road")
    assert english[0]["id"] == first["id"]


def test_stations_and_localities(client: Any, riyadh_engine: Engine) -> None:
    with riyadh_engine.connect() as conn:
        name_en, name_ar, lon, lat = conn.execute(
            text(
                "SELECT name_en, name_ar, ST_X(geom), ST_Y(geom) FROM station "
                "WHERE name_en ILIKE '%fire station%' ORDER BY id LIMIT 1"
            )
        ).one()
        locality = conn.execute(
            text(
                "SELECT name_en FROM place WHERE kind = 'locality' AND name_en <> name_ar "
                "ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    found = search(client, name_en, kinds="station")
    assert (found[0]["name_ar"], found[0]["lon"], found[0]["lat"]) == (
        name_ar,
        round(lon, 6),
        round(lat, 6),
    )
    assert found[0]["agency"] == "civil_defence" and found[0]["bbox"] is None
    places = search(client, locality, kinds="locality")
    assert places[0]["name_en"] == locality and places[0]["match"] == "exact"


def test_ranking_puts_exact_and_prefix_before_contains(client: Any) -> None:
    results = search(client, "Malqa", limit=20)
    order = ["exact", "prefix", "word", "contains"]
    ranks = [order.index(r["match"]) for r in results]
    assert ranks == sorted(ranks)
    assert len(search(client, "Malqa", limit=1)) == 1


def test_nothing_found_is_an_empty_list(client: Any) -> None:
    assert search(client, "zzqqxx-no-such-place") == []
    assert search(client, "%") == []  # LIKE wildcards are literal


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"q": "  "}, 400),
        ({"q": "x" * 101}, 400),
        ({"q": "malqa", "kinds": "planet"}, 400),
        ({"q": "malqa", "limit": "0"}, 400),
        ({"q": "malqa", "region": "atlantis"}, 404),
    ],
)
def test_bad_queries_answer_in_the_error_shape(
    client: Any, params: dict[str, str], status: int
) -> None:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_normalise_folds_what_people_type_differently() -> None:
    assert normalise("  Al-Malqa ") == "al malqa"
    assert normalise("إشبيلية") == normalise("اشبيليه") == "اشبيليه"
    assert normalise("مُسْتَشْفَى") == "مستشفي"
    assert normalise("الـريـاض") == "الرياض"  # tatweel
