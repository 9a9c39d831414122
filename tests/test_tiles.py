"""Vector tiles and road labels over the real Doha region (95,947 road edges), decoded with
``mapbox-vector-tile``: what each zoom holds, that tiles stay small, labels, bad tile
addresses, roles, and caching keyed on the region's map version."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dispatch_helpers import ROLES, app_for, token_for
from najda.web.tile_queries import EXTENT, road_classes_at, text_angle

# West Bay and the old town of Doha (Al Corniche, Grand Hamad Street)
CENTRE = (51.5330, 25.2865)
DOHA_ROADS_BBOX = (51.2421, 24.9511, 51.6270, 25.6367)
SMALL = 128 * 1024  # no tile of a whole city's network should be bigger


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


@pytest.fixture
def app(doha_engine: Engine) -> Iterator[Any]:
    app = app_for(doha_engine)
    yield app
    app.extensions["najda"].engine.dispose()


@pytest.fixture
def client(app: Any, doha_engine: Engine) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(doha_engine, 'planner')}"
    return client


def get_tile(client: FlaskClient, layer: str, zxy: tuple[int, int, int], **params: str) -> Any:
    z, x, y = zxy
    query = "&".join(f"{k}={v}" for k, v in {"region": "doha", **params}.items())
    return client.get(f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt?{query}")


def decoded(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    layers: dict[str, Any] = mapbox_vector_tile.decode(response.data)
    return layers


def classes(layers: dict[str, Any]) -> set[str]:
    return {f["properties"]["class"] for f in layers.get("roads", {}).get("features", [])}


def test_roads_show_more_classes_as_the_zoom_grows(client: FlaskClient) -> None:
    city = decoded(get_tile(client, "roads", tile_of(*CENTRE, 10)))
    assert classes(city) == {"motorway", "trunk", "primary", "secondary"}
    district = decoded(get_tile(client, "roads", tile_of(*CENTRE, 13)))
    assert {"tertiary", "unclassified"} <= classes(district)
    assert "residential" not in classes(district)
    streets = decoded(get_tile(client, "roads", tile_of(*CENTRE, 15)))
    assert {"primary", "tertiary", "residential", "service"} <= classes(streets)
    assert streets["roads"]["extent"] == EXTENT
    # one (multi)line per class: the edges of a class are merged in the tile
    assert len(streets["roads"]["features"]) == len(classes(streets))
    for feature in streets["roads"]["features"]:
        assert feature["geometry"]["type"] in {"LineString", "MultiLineString"}
        assert set(feature["properties"]) == {"class"}


def test_road_classes_by_zoom() -> None:
    assert road_classes_at(5) == ["motorway", "trunk"]
    assert "residential" in road_classes_at(14) and "service" not in road_classes_at(14)
    assert road_classes_at(15) == []  # every class


def tiles_covering(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    _, x0, y0 = tile_of(bbox[0], bbox[3], z)
    _, x1, y1 = tile_of(bbox[2], bbox[1], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


@pytest.mark.parametrize("z", [9, 11, 12])
def test_every_tile_of_the_city_stays_small(client: FlaskClient, z: int) -> None:
    sizes = {
        zxy: len(get_tile(client, "roads", zxy).data) for zxy in tiles_covering(DOHA_ROADS_BBOX, z)
    }
    assert max(sizes.values()) < SMALL, max(sizes.items(), key=lambda kv: kv[1])
    assert sum(1 for s in sizes.values() if s > 0) >= 2


def test_dense_street_tiles_stay_small(client: FlaskClient) -> None:
    # the old town and its neighbours at the zoom where every street appears
    lon, lat = CENTRE
    sizes = [
        len(get_tile(client, "roads", tile_of(lon + dx, lat + dy, 15)).data)
        for dx in (-0.02, 0, 0.02)
        for dy in (-0.02, 0, 0.02)
    ]
    assert 0 < max(sizes) < SMALL


def test_boundaries_hold_municipalities_and_neighbourhoods(client: FlaskClient) -> None:
    qatar = decoded(get_tile(client, "boundaries", tile_of(51.2, 25.3, 7)))
    names = {f["properties"]["name_en"] for f in qatar["governorates"]["features"]}
    assert len(names) == 8 and "Ad Dawhah" in names
    assert "places" not in qatar  # neighbourhoods only from z11
    doha = decoded(get_tile(client, "boundaries", tile_of(*CENTRE, 13)))
    assert doha["places"]["features"]
    assert {f["properties"]["kind"] for f in doha["places"]["features"]} == {
        "neighbourhood",
        "zone",
    }
    empty = get_tile(client, "boundaries", (7, 0, 0))  # the Arctic
    assert empty.status_code == 200 and mapbox_vector_tile.decode(empty.data) == {}


def test_jurisdictions_of_one_agency(client: FlaskClient) -> None:
    zxy = tile_of(*CENTRE, 9)
    layers = decoded(get_tile(client, "jurisdictions", zxy, agency="police"))
    features = layers["jurisdictions"]["features"]
    assert features and {f["properties"]["agency"] for f in features} == {"police"}
    assert all(f["properties"]["color"].startswith("#") for f in features)
    body = get_tile(client, "jurisdictions", zxy).get_json()
    assert body["error"]["code"] == "invalid_input" and body["error"]["details"] == {
        "parameter": "agency"
    }
    none = get_tile(client, "jurisdictions", zxy, agency="coast_guard")
    assert none.status_code == 200 and none.data == b""


def test_labels_name_the_streets_at_close_zoom(client: FlaskClient) -> None:
    z, x, y = tile_of(*CENTRE, 16)
    response = client.get(f"/api/v1/tiles/labels/{z}/{x}/{y}.json?region=doha")
    assert response.status_code == 200
    labels = response.get_json()["labels"]
    names = {label["name_en"] for label in labels}
    assert "Grand Hamad Street" in names
    assert len(names) == len(labels)  # one label per name and tile
    for label in labels:
        lon, lat = label["lonlat"]
        assert 51.5 < lon < 51.6 and 25.2 < lat < 25.35
        assert -90 <= label["angle"] <= 90 and label["length_px"] >= 24
    far = client.get(f"/api/v1/tiles/labels/14/{x // 4}/{y // 4}.json?region=doha")
    assert far.status_code == 400 and far.get_json()["error"]["code"] == "invalid_tile"


def test_text_angle_keeps_names_upright() -> None:
    assert text_angle(90) == 0  # a road to the east: horizontal text
    assert text_angle(270) == 0  # drawn westwards: still left to right
    assert text_angle(0) == 90 and text_angle(180) == 90  # north-south: one way for both
    assert text_angle(135) == 45 and text_angle(315) == 45
    assert text_angle(None) == 0


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/tiles/roads/23/0/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/2/4/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/2/0/4.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/2/-1/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/a/0/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/1.5/0/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/roads/١/0/0.mvt?region=doha", 400, "invalid_tile"),
        ("/tiles/rivers/2/0/0.mvt?region=doha", 404, "unknown_layer"),
        ("/tiles/roads/2/0/0.mvt", 400, "invalid_input"),
        ("/tiles/roads/2/0/0.mvt?region=atlantis", 404, "unknown_region"),
        ("/tiles/roads/2/0/0.mvt?region=a;b", 400, "invalid_input"),
        ("/tiles/labels/16/0/70000.json?region=doha", 400, "invalid_tile"),
    ],
)
def test_bad_tile_requests_answer_in_the_error_shape(
    client: FlaskClient, path: str, status: int, code: str
) -> None:
    response = client.get("/api/v1" + path)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code


def test_every_role_reads_tiles_and_strangers_do_not(app: Any, doha_engine: Engine) -> None:
    zxy = tile_of(*CENTRE, 12)
    anonymous = app.test_client()
    assert get_tile(anonymous, "roads", zxy).status_code == 401
    z, x, y = tile_of(*CENTRE, 16)
    assert anonymous.get(f"/api/v1/tiles/labels/{z}/{x}/{y}.json?region=doha").status_code == 401
    for role in ROLES:
        client = app.test_client()
        token = token_for(doha_engine, role, name=f"{role}-tiles")
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        assert get_tile(client, "roads", zxy).status_code == 200, role


def test_caching_follows_the_map_version(client: FlaskClient, doha_engine: Engine) -> None:
    zxy = tile_of(*CENTRE, 12)
    version = client.get("/api/v1/regions").get_json()["regions"][0]["map_version"]
    first = get_tile(client, "roads", zxy, v=version)
    assert first.headers["Cache-Control"] == "private, max-age=604800, immutable"
    etag = first.headers["ETag"]
    unversioned = get_tile(client, "roads", zxy)
    assert unversioned.headers["Cache-Control"] == "private, no-cache"
    again = client.get(
        f"/api/v1/tiles/roads/{zxy[0]}/{zxy[1]}/{zxy[2]}.mvt?region=doha",
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304 and again.data == b""
    # a compressed answer's tag carries its encoding; it still matches
    gzip_tag = etag[:-1] + ':gzip"'
    assert (
        client.get(
            f"/api/v1/tiles/roads/{zxy[0]}/{zxy[1]}/{zxy[2]}.mvt?region=doha",
            headers={"If-None-Match": gzip_tag},
        ).status_code
        == 304
    )
    with doha_engine.begin() as conn:  # a layer is imported again
        conn.execute(text("UPDATE layer_import SET imported_at = now() WHERE layer = 'roads'"))
    newer = client.get("/api/v1/regions").get_json()["regions"][0]["map_version"]
    assert newer != version
    changed = client.get(
        f"/api/v1/tiles/roads/{zxy[0]}/{zxy[1]}/{zxy[2]}.mvt?region=doha&v={version}",
        headers={"If-None-Match": etag},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.headers["Cache-Control"] == "private, no-cache"  # an old version's URL


def test_tiles_and_json_are_compressed(client: FlaskClient) -> None:
    zxy = tile_of(*CENTRE, 11)
    plain = get_tile(client, "roads", zxy)
    z, x, y = zxy
    packed = client.get(
        f"/api/v1/tiles/roads/{z}/{x}/{y}.mvt?region=doha", headers={"Accept-Encoding": "gzip"}
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) < len(plain.data)
    regions = client.get("/api/v1/governorates?region=doha", headers={"Accept-Encoding": "br"})
    assert regions.headers["Content-Encoding"] == "br"


def test_regions_name_their_jurisdiction_agencies_and_version(client: FlaskClient) -> None:
    (doha,) = client.get("/api/v1/regions").get_json()["regions"]
    codes = [a["code"] for a in doha["jurisdiction_agencies"]]
    assert codes == sorted(codes, key=codes.index) and "police" in codes
    assert all(a["name_ar"] and a["name_en"] for a in doha["jurisdiction_agencies"])
    assert doha["place_kinds"] == {"neighbourhood": 73, "zone": 34}
    # the region's own names (its manifest's [[agency]]), not the catalogue's Saudi ones
    names = {a["code"]: a["name_en"] for a in doha["jurisdiction_agencies"]}
    assert names["red_crescent"] == "Hamad Medical Corporation Ambulance Service"
    assert doha["map_version"].startswith(("1-", "2-"))
    light = client.get("/api/v1/governorates?region=doha&geometry=false").get_json()
    assert len(light["features"]) == 8
    assert all(f["geometry"] is None for f in light["features"])
    for feature in light["features"]:
        lon, lat = feature["properties"]["label_point"]
        x0, y0, x1, y1 = feature["properties"]["bbox"]
        assert x0 <= lon <= x1 and y0 <= lat <= y1


def test_riyadh_labels_are_in_arabic(riyadh_engine: Engine) -> None:
    app = app_for(riyadh_engine)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(riyadh_engine, 'planner')}"
    with riyadh_engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM road_edge "
                "WHERE name_ar IS NOT NULL AND highway IN ('motorway', 'trunk') "
                "ORDER BY length_m DESC LIMIT 1"
            )
        ).one()
    z, x, y = tile_of(lon, lat, 16)
    labels = client.get(f"/api/v1/tiles/labels/{z}/{x}/{y}.json?region=riyadh").get_json()
    assert any(
        label["name_ar"] and any("\u0600" <= ch <= "\u06ff" for ch in label["name_ar"])
        for label in labels["labels"]
    )
    app.extensions["najda"].engine.dispose()
