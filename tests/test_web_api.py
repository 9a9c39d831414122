"""The web API on real PostGIS through the Flask test client: geodata endpoints, health,
assets, the map page, and the one error shape for every failure (Datasette style).

The geodata and search endpoints and the map page need a signed-in caller: ``client``
logs in through ``POST /api/v1/auth/login``; ``anonymous`` does not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dispatch_helpers import sign_in, token_for
from najda.config import load_settings
from najda.web import create_app
from najda.web.api import json_body
from najda.web.geo_queries import schema_head

ERROR_KEYS = {"code", "message", "details"}

# Two squares side by side near Riyadh, and a small one in another region.
SQUARE_A = "MULTIPOLYGON(((46.60 24.60, 46.70 24.60, 46.70 24.70, 46.60 24.70, 46.60 24.60)))"
SQUARE_B = "MULTIPOLYGON(((46.70 24.60, 46.80 24.60, 46.80 24.70, 46.70 24.70, 46.70 24.60)))"
SQUARE_C = "MULTIPOLYGON(((40.00 21.00, 40.10 21.00, 40.10 21.10, 40.00 21.10, 40.00 21.00)))"
# A wiggly line: many vertices within a few metres of a straight one.
WIGGLE = ", ".join(
    f"{46.62 + i * 0.001:.4f} {24.65 + (0.00001 if i % 2 else 0):.5f}" for i in range(41)
)


def _settings_for(engine: Engine) -> Any:
    return load_settings().with_overrides(
        database_url=engine.url.render_as_string(hide_password=False), online=False
    )


def _seed(engine: Engine) -> None:
    """Two regions, three governorates, a small road graph and two stations."""
    with engine.begin() as conn:
        run = conn.execute
        run(
            text(
                "INSERT INTO region (id, code, name_en, name_ar) VALUES "
                "(901, 'riyadh', 'Riyadh Region', 'منطقة الرياض'), "
                "(902, 'makkah', 'Makkah Region', 'منطقة مكة المكرمة')"
            )
        )
        for gid, rid, code, en, ar, pop, wkt in [
            (1, 901, "ryd", "Riyadh", "الرياض", 7_000_000, SQUARE_A),
            (2, 901, "drm", "Diriyah", "الدرعية", 120_000, SQUARE_B),
            (3, 902, "jed", "Jeddah", "جدة", 4_000_000, SQUARE_C),
        ]:
            run(
                text(
                    "INSERT INTO governorate (id, region_id, code, name_en, name_ar, population,"
                    " geom) VALUES (:i, :r, :c, :en, :ar, :p, ST_GeomFromText(:w, 4326))"
                ),
                {"i": gid, "r": rid, "c": code, "en": en, "ar": ar, "p": pop, "w": wkt},
            )
        nodes = {
            1: (46.62, 24.65),
            2: (46.66, 24.65),
            3: (46.66, 24.69),
            4: (40.05, 21.05),
            5: (40.06, 21.06),
        }
        for nid, (x, y) in nodes.items():
            rid = 902 if nid >= 4 else 901
            run(
                text(
                    "INSERT INTO road_node (id, region_id, geom) "
                    "VALUES (:i, :r, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"i": nid, "r": rid, "x": x, "y": y},
            )
        edges = [  # id, region, u, v, way, highway, oneway, wkt, name_ar
            (11, 901, 1, 2, 100, "residential", False, f"LINESTRING({WIGGLE})", "شارع التخصصي"),
            (12, 901, 2, 1, 100, "residential", False, None, "شارع التخصصي"),
            (
                13,
                901,
                2,
                3,
                200,
                "motorway",
                True,
                "LINESTRING(46.66 24.65, 46.66 24.69)",
                "طريق الملك فهد",
            ),
            (14, 902, 4, 5, 300, "primary", False, "LINESTRING(40.05 21.05, 40.06 21.06)", None),
        ]
        for eid, rid, u, v, way, hw, oneway, wkt, name_ar in edges:
            geom = (
                "ST_GeomFromText(:w, 4326)"
                if wkt
                else "(SELECT ST_Reverse(geom) FROM road_edge WHERE id = 11)"
            )
            run(
                text(
                    f"INSERT INTO road_edge (id, region_id, u, v, osm_way_id, highway, name_ar,"
                    f" oneway, length_m, speed_kph, travel_time_s, geom) VALUES (:i, :r, :u, :v,"
                    f" :way, :hw, :ar, :ow, 4000, 40, 360, {geom})"
                ),
                {
                    "i": eid,
                    "r": rid,
                    "u": u,
                    "v": v,
                    "way": way,
                    "hw": hw,
                    "ar": name_ar,
                    "ow": oneway,
                    "w": wkt,
                },
            )
        run(
            text(
                "INSERT INTO agency (code, name_en, name_ar, color) VALUES "
                "('civil_defence', 'Civil Defence', 'الدفاع المدني', '#d9480f') "
                "ON CONFLICT (code) DO NOTHING"
            )
        )
        for sid, code, x, y in [(1, "fire-1", 46.65, 24.66), (2, "fire-2", 46.75, 24.65)]:
            run(
                text(
                    "INSERT INTO station (id, region_id, agency_id, code, kind, name_en, name_ar,"
                    " geom) SELECT :i, 901, id, :c, 'fire_station', :c, 'مركز', "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326) FROM agency "
                    "WHERE code = 'civil_defence'"
                ),
                {"i": sid, "c": code, "x": x, "y": y},
            )


def _make_app(engine: Engine, **config: Any) -> Iterator[Flask]:
    app = create_app(_settings_for(engine), config={"TESTING": True, **config})
    yield app
    app.extensions["najda"].engine.dispose()


@pytest.fixture
def app(engine: Engine) -> Iterator[Flask]:
    _seed(engine)
    yield from _make_app(engine)


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    """A planner signed in with a session cookie."""
    return sign_in(app.test_client(), engine)


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def down_client() -> Iterator[FlaskClient]:
    """An app whose database does not answer (nothing listens on port 9)."""
    settings = load_settings().with_overrides(
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    )
    app = create_app(settings, config={"TESTING": True})
    yield app.test_client()
    app.extensions["najda"].engine.dispose()


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert "Traceback" not in response.get_data(as_text=True)
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


# -- factory ---------------------------------------------------------------------------
def test_each_app_owns_its_engine(engine: Engine) -> None:
    settings = _settings_for(engine)
    first, second = create_app(settings), create_app(settings)
    assert first.extensions["najda"].engine is not second.extensions["najda"].engine
    assert first.extensions["najda"].settings is settings
    for app in (first, second):
        app.extensions["najda"].engine.dispose()


# -- geodata ---------------------------------------------------------------------------
def test_regions_list_extents_and_counts(client: FlaskClient) -> None:
    regions = {r["code"]: r for r in client.get("/api/v1/regions").get_json()["regions"]}
    assert set(regions) == {"riyadh", "makkah"}
    riyadh = regions["riyadh"]
    assert riyadh["name_ar"] == "منطقة الرياض"
    assert riyadh["counts"] == {"governorates": 2, "road_edges": 3, "stations": 2}
    assert riyadh["bbox"] == pytest.approx([46.60, 24.60, 46.80, 24.70])
    assert riyadh["roads_bbox"] == pytest.approx([46.62, 24.65, 46.66, 24.69])


def test_governorates_geojson_with_names_and_population(client: FlaskClient) -> None:
    response = client.get("/api/v1/governorates?region=riyadh")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    data = response.get_json()
    assert data["type"] == "FeatureCollection"
    props = [f["properties"] for f in data["features"]]
    assert [(p["name_en"], p["name_ar"], p["population"]) for p in props] == [
        ("Riyadh", "الرياض", 7_000_000),
        ("Diriyah", "الدرعية", 120_000),
    ]
    assert {f["geometry"]["type"] for f in data["features"]} == {"MultiPolygon"}
    assert props[0]["area_km2"] == pytest.approx(10.1 * 11.1, rel=0.05)
    # Arabic is sent as UTF-8 text, not \\u escapes.
    assert "الدرعية" in response.get_data(as_text=True)


def test_governorates_of_all_regions_and_unknown_region(client: FlaskClient) -> None:
    everything = client.get("/api/v1/governorates").get_json()
    assert {f["properties"]["region"] for f in everything["features"]} == {"riyadh", "makkah"}
    error = assert_error_shape(
        client.get("/api/v1/governorates?region=atlantis"), 404, "unknown_region"
    )
    assert error["details"] == {"region": "atlantis"}


def test_roads_merge_two_way_twins_unless_directed(client: FlaskClient) -> None:
    merged = client.get("/api/v1/roads?region=riyadh").get_json()
    assert sorted(f["id"] for f in merged["features"]) == [11, 13]
    directed = client.get("/api/v1/roads?region=riyadh&directed=true").get_json()
    assert sorted(f["id"] for f in directed["features"]) == [11, 12, 13]
    first = directed["features"][0]
    assert first["geometry"]["type"] == "LineString"
    assert set(first["properties"]) >= {
        "highway",
        "name_en",
        "name_ar",
        "oneway",
        "length_m",
        "speed_kph",
        "travel_time_s",
        "u",
        "v",
    }


def test_roads_bbox_selects_by_location(client: FlaskClient) -> None:
    inside = client.get("/api/v1/roads?bbox=40,21,40.2,21.2").get_json()
    assert [f["id"] for f in inside["features"]] == [14]
    empty = client.get("/api/v1/roads?bbox=10,10,10.5,10.5").get_json()
    assert empty["features"] == [] and empty["numberMatched"] == 0


def test_roads_limit_keeps_major_classes_and_reports_truncation(client: FlaskClient) -> None:
    data = client.get("/api/v1/roads?region=riyadh&limit=1").get_json()
    assert [f["properties"]["highway"] for f in data["features"]] == ["motorway"]
    assert (data["numberMatched"], data["numberReturned"], data["truncated"]) == (2, 1, True)
    classes = client.get("/api/v1/roads?classes=residential,primary").get_json()
    assert sorted(f["id"] for f in classes["features"]) == [11, 14]


def test_roads_simplification_drops_vertices(client: FlaskClient) -> None:
    def vertices(query: str) -> int:
        data = client.get(f"/api/v1/roads?directed=true&{query}").get_json()
        return next(len(f["geometry"]["coordinates"]) for f in data["features"] if f["id"] == 11)

    assert vertices("") == 41
    assert vertices("simplify=5") == 2
    # A wide bbox without an explicit simplify is simplified by default.
    assert vertices("bbox=40,20,50,30") == 2
    assert vertices("bbox=40,20,50,30&simplify=0") == 41


def test_stations_geojson(app: Flask, client: FlaskClient) -> None:
    data = client.get("/api/v1/stations?region=riyadh&bbox=46.6,24.6,46.7,24.7").get_json()
    assert [f["properties"]["code"] for f in data["features"]] == ["fire-1"]
    props = data["features"][0]["properties"]
    with app.extensions["najda"].engine.connect() as conn:
        color, name_ar = conn.execute(
            text("SELECT color, name_ar FROM agency WHERE code = 'civil_defence'")
        ).one()
    assert (props["agency"], props["agency_color"], props["agency_name_ar"]) == (
        "civil_defence",
        color,
        name_ar,
    )
    assert data["features"][0]["geometry"] == {"type": "Point", "coordinates": [46.65, 24.66]}


# -- health ----------------------------------------------------------------------------
def test_health_reports_revision_and_counts(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    head = schema_head()
    assert head is not None
    assert body["database"] == {
        "reachable": True,
        "schema_revision": head,
        "schema_head": head,
        "schema_up_to_date": True,
    }
    assert body["counts"]["governorate"] == 3
    assert body["counts"]["road_edge"] == 4


def test_health_is_503_in_the_error_shape_when_the_database_is_down(
    down_client: FlaskClient,
) -> None:
    assert_error_shape(down_client.get("/health"), 503, "database_unavailable")
    # a token that cannot be checked is not a 401: the database is what is missing
    bearer = {"Authorization": "Bearer njd_not-checked"}
    assert_error_shape(
        down_client.get("/api/v1/roads", headers=bearer), 503, "database_unavailable"
    )


def test_health_is_503_when_the_schema_is_not_migrated(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    for app in _make_app(engine):
        assert_error_shape(app.test_client().get("/health"), 503, "schema_not_migrated")


# -- the error shape -------------------------------------------------------------------
@pytest.fixture
def app_with_probe_routes(engine: Engine) -> Iterator[Flask]:
    """The real app plus two routes standing in for the JSON-posting endpoints of later
    issues: one reads a body with the production helper, one fails unexpectedly. Its test
    clients send a planner's API token."""
    for app in _make_app(engine):
        app.add_url_rule(
            "/api/v1/_probe/echo", "probe_echo", lambda: {"received": json_body()}, methods=["POST"]
        )

        def boom() -> str:
            raise RuntimeError("secret connection string postgres://admin:pw@db")

        app.add_url_rule("/api/v1/_probe/boom", "probe_boom", boom)
        token = token_for(engine, "planner")
        app.test_client_class = _token_client(token)
        yield app


def _token_client(token: str) -> type[FlaskClient]:
    class TokenClient(FlaskClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    return TokenClient


ERROR_CASES = [
    ("GET", "/no/such/page", None, 404, "not_found"),
    ("GET", "/api/v1/nothing-here", None, 404, "not_found"),
    ("POST", "/api/v1/governorates", None, 405, "method_not_allowed"),
    ("DELETE", "/health", None, 405, "method_not_allowed"),
    ("GET", "/api/v1/roads?bbox=1,2,3", None, 400, "invalid_bbox"),
    ("GET", "/api/v1/roads?bbox=a,b,c,d", None, 400, "invalid_bbox"),
    ("GET", "/api/v1/roads?bbox=50,20,40,30", None, 400, "invalid_bbox"),
    ("GET", "/api/v1/roads?bbox=0,-95,1,1", None, 400, "invalid_bbox"),
    ("GET", "/api/v1/roads?bbox=nan,1,2,3", None, 400, "invalid_bbox"),
    ("GET", "/api/v1/roads?limit=0", None, 400, "invalid_input"),
    ("GET", "/api/v1/roads?limit=ten", None, 400, "invalid_input"),
    ("GET", "/api/v1/roads?simplify=-1", None, 400, "invalid_input"),
    ("GET", "/api/v1/roads?classes=motorway;drop", None, 400, "invalid_input"),
    ("GET", "/api/v1/roads?directed=maybe", None, 400, "invalid_input"),
    ("GET", "/api/v1/stations?region=../etc", None, 400, "invalid_input"),
    ("POST", "/api/v1/_probe/echo", '{"type": "fire",', 400, "malformed_json"),
    ("POST", "/api/v1/_probe/echo", "[1, 2]", 400, "invalid_input"),
    ("POST", "/api/v1/_probe/boom", None, 405, "method_not_allowed"),
    ("GET", "/api/v1/_probe/boom", None, 500, "internal_error"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), ERROR_CASES)
def test_every_error_has_exactly_the_error_shape(
    app_with_probe_routes: Flask, method: str, path: str, body: str | None, status: int, code: str
) -> None:
    client = app_with_probe_routes.test_client()
    response = client.open(
        path,
        method=method,
        data=body,
        content_type="application/json" if body is not None else None,
    )
    error = assert_error_shape(response, status, code)
    assert "secret" not in json.dumps(error) and "postgres://" not in json.dumps(error)


ANONYMOUS_PATHS = [
    "/api/v1/regions",
    "/api/v1/governorates?region=riyadh",
    "/api/v1/roads?region=riyadh",
    "/api/v1/stations",
    "/api/v1/search?q=riyadh",
]


@pytest.mark.parametrize("path", ANONYMOUS_PATHS)
def test_geodata_and_search_need_a_signed_in_caller(anonymous: FlaskClient, path: str) -> None:
    assert_error_shape(anonymous.get(path), 401, "unauthorized")
    bad = anonymous.get(path, headers={"Authorization": "Bearer njd_revoked-or-made-up"})
    assert_error_shape(bad, 401, "unauthorized")
    assert anonymous.get("/health").status_code == 200  # health stays public


def test_an_api_token_of_any_role_may_read_the_geodata(
    anonymous: FlaskClient, engine: Engine
) -> None:
    for role in ("dispatcher", "supervisor", "planner", "admin"):
        bearer = {"Authorization": f"Bearer {token_for(engine, role)}"}
        for path in ANONYMOUS_PATHS:
            assert anonymous.get(path, headers=bearer).status_code == 200, (role, path)


def test_wrong_method_names_the_allowed_ones(client: FlaskClient) -> None:
    response = client.post("/api/v1/roads")
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in error["details"]["allowed_methods"]
    assert "GET" in response.headers["Allow"]


def test_valid_json_body_reaches_the_view(app_with_probe_routes: Flask) -> None:
    response = app_with_probe_routes.test_client().post(
        "/api/v1/_probe/echo", json={"type": "حريق"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"received": {"type": "حريق"}}


# -- the page and its assets -----------------------------------------------------------
def test_map_page_sends_a_stranger_to_the_login_and_back(anonymous: FlaskClient) -> None:
    response = anonymous.get("/?lang=en")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/login?next=/?lang%3Den"
    login = anonymous.get(response.headers["Location"]).get_data(as_text=True)
    assert "/?lang=en" in login  # where the login page returns to
    assert anonymous.get("/").headers["Location"] == "/console/login?next=/"


def test_map_page_in_arabic_runs_right_to_left(client: FlaskClient) -> None:
    html = client.get("/?lang=ar").get_data(as_text=True)
    assert re.search(r'<html lang="ar" dir="rtl">', html)
    assert "<dt>المحافظات</dt>" in html and "<dt>مقاطع الطرق</dt>" in html
    assert 'href="?lang=en"' in html
    config = json.loads(
        re.search(r'<script id="najda-config" type="application/json">(.*?)</script>', html, re.S)[
            1
        ]
    )
    assert config["lang"] == "ar"
    assert config["api"]["tiles"] == "/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt"
    assert config["api"]["labels"] == "/api/v1/tiles/labels/{z}/{x}/{y}.json"
    assert config["region"]["code"] == "makkah"  # the first region by code


def test_map_page_language_choice(client: FlaskClient) -> None:
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Governorates" in english
    browser_en = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en" dir="ltr">' in browser_en.get_data(as_text=True)
    default = client.get("/?lang=fr").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in default  # Arabic first


def test_bundled_assets_and_leaflet_images_are_served(client: FlaskClient) -> None:
    html = client.get("/?lang=en").get_data(as_text=True)
    css_url = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)[1]
    js_urls = re.findall(r'<script src="([^"]+)"', html)
    assert css_url.startswith("/static/gen/") and js_urls[0].startswith("/static/gen/")
    js = client.get(js_urls[0]).get_data(as_text=True)
    assert "L.MarkerClusterGroup" in js and "Leaflet" in js
    css_response = client.get(css_url)
    assert css_response.status_code == 200
    css = css_response.get_data(as_text=True)
    assert ".leaflet-container" in css and ".marker-cluster" in css and ".gov-list" in css
    images = set(re.findall(r"url\(['\"]?([^'\")]+\.png)['\"]?\)", css))
    assert len(images) >= 3
    base = css_url.rsplit("/", 1)[0] + "/"
    for image in images:
        path = image if image.startswith("/") else _join_url(base, image)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "image/png"
        assert response.get_data()[:4] == b"\x89PNG"


def _join_url(base: str, relative: str) -> str:
    from urllib.parse import urljoin

    return urljoin("http://x" + base, relative).removeprefix("http://x")


def test_page_scripts_are_served(client: FlaskClient) -> None:
    for name in ("map", "api", "format", "styles"):
        response = client.get(f"/static/js/{name}.js")
        assert response.status_code == 200
        assert "javascript" in response.mimetype


# -- the imported Riyadh region (the real importers) -----------------------------------
def test_imported_riyadh_region_is_served(riyadh_engine: Engine) -> None:
    for app in _make_app(riyadh_engine):
        client = sign_in(app.test_client(), riyadh_engine)
        (region,) = client.get("/api/v1/regions").get_json()["regions"]
        assert (region["code"], region["counts"]["governorates"]) == ("riyadh", 20)
        governorates = client.get("/api/v1/governorates?region=riyadh").get_json()
        assert len(governorates["features"]) == 20
        assert all(f["properties"]["name_ar"] for f in governorates["features"])
        roads = client.get("/api/v1/roads?region=riyadh&directed=true&limit=50000").get_json()
        assert roads["numberReturned"] == region["counts"]["road_edges"] > 1000
        merged = client.get("/api/v1/roads?region=riyadh").get_json()
        assert roads["numberReturned"] / 2 <= merged["numberReturned"] < roads["numberReturned"]
        assert {f["geometry"]["type"] for f in merged["features"]} == {"LineString"}
        stations = client.get("/api/v1/stations?region=riyadh").get_json()
        assert len(stations["features"]) == region["counts"]["stations"] > 0


def _page_region(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(
        r'<script id="najda-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found is not None
    config = json.loads(found[1])
    assert [r["code"] for r in config["regions"]] == ["makkah", "riyadh"]  # for the switcher
    return str(config["region"]["code"])


def test_pages_show_the_asked_region_else_the_setting_else_the_first(
    client: FlaskClient, engine: Engine
) -> None:
    assert _page_region(client, "/?lang=en") == "makkah"
    assert _page_region(client, "/?lang=en&region=riyadh") == "riyadh"
    assert _page_region(client, "/?lang=en&region=atlantis") == "makkah"
    settings = _settings_for(engine).with_overrides(region="riyadh")
    app = create_app(settings, config={"TESTING": True})
    chosen = sign_in(app.test_client(), engine, name="planner-setting")
    assert _page_region(chosen, "/?lang=en") == "riyadh"
    assert _page_region(chosen, "/?lang=en&region=makkah") == "makkah"
    app.extensions["najda"].engine.dispose()
