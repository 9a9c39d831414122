"""The admin's units and catalogue over real HTTP on the imported Riyadh region: units
created, changed, taken out of service and back (and what dispatch then recommends),
roles, bad input answered in the error shape with nothing stored, the catalogue read in
Arabic and English, and reloads of a good and a broken catalogue."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dispatch_helpers import (
    Api,
    Server,
    Stream,
    add_unit,
    assert_error_shape,
    event_stream,
    live_server,
    straight_segments,
    token_for,
)
from najda.config import project_root

CATALOGUE = project_root() / "geo_data" / "catalogue"
CATALOGUE_TABLES = ("agency", "unit_type", "incident_type")


@pytest.fixture
def stream(riyadh_engine: Engine, server: Server) -> Iterator[Stream]:
    server.app.config["NAJDA_SSE_HEARTBEAT_S"] = 0.5
    with event_stream(server, token_for(riyadh_engine, "planner", name="watcher")) as s:
        yield s


def _station(engine: Engine, agency: str) -> int:
    """A station of ``agency`` close to the road graph."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("""
            SELECT s.id FROM station s JOIN agency a ON a.id = s.agency_id
            WHERE a.code = :a AND s.road_node_id IS NOT NULL
            ORDER BY s.snap_distance_m, s.id LIMIT 1"""),
                {"a": agency},
            ).scalar_one()
        )


def _units(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("""
            SELECT id, call_sign, unit_type_id, agency_id, station_id, status,
                   ST_AsText(last_position) FROM unit ORDER BY id""")
            )
        ]


def _catalogue_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in CATALOGUE_TABLES
        }


def _recommended(api: Api, incident_id: int) -> set[int]:
    r = api.get(f"/incidents/{incident_id}/recommendations")
    assert r.status_code == 200, r.text
    return {u["unit_id"] for req in r.json()["requirements"] for u in req["units"]}


def _fire(api: Api, lon: float, lat: float) -> int:
    r = api.post("/incidents", json={"type": "building_fire", "location": {"lon": lon, "lat": lat}})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


# -- units -------------------------------------------------------------------------------
def test_admin_creates_and_changes_a_unit_that_dispatch_then_recommends(
    riyadh_engine: Engine, api: dict[str, Api], stream: Stream
) -> None:
    segs = straight_segments(riyadh_engine)
    where, scene = segs[30], segs[31]
    r = api["admin"].post(
        "/units",
        json={
            "call_sign": "CD-NEW-1",
            "unit_type": "fire_engine",
            "agency": "civil_defence",
            "position": {"lon": where.lon, "lat": where.lat},
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/geo+json")
    unit = r.json()
    uid = unit["id"]
    expected = {
        "call_sign": "CD-NEW-1",
        "agency": "civil_defence",
        "unit_type": "fire_engine",
        "status": "available",
        "position_source": "posted",
        "station": None,
    }
    assert {k: unit["properties"][k] for k in expected} == expected
    assert unit["geometry"]["coordinates"] == pytest.approx([where.lon, where.lat])
    assert r.headers["Location"].endswith(f"/api/v1/units/{uid}")
    (created,) = [
        e for e in stream.events_until("unit.updated", id=uid) if e["kind"] == "unit.updated"
    ]
    assert created["payload"]["change"] == "created"
    assert created["payload"]["by"] == "admin-1"

    assert uid in _recommended(api["dispatcher"], _fire(api["dispatcher"], scene.lon, scene.lat))

    station = _station(riyadh_engine, "civil_defence")
    r = api["admin"].http.patch(
        f"{api['admin'].base}/units/{uid}",
        json={"call_sign": "CD-NEW-2", "station_id": station},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["call_sign"] == "CD-NEW-2" and props["station"] is not None
    updated = stream.events_until("unit.updated", id=uid, change="updated")[-1]["payload"]
    assert updated["changes"]["call_sign"] == ["CD-NEW-1", "CD-NEW-2"]
    assert api["planner"].get(f"/units/{uid}").json()["properties"]["call_sign"] == "CD-NEW-2"


def test_out_of_service_units_are_not_recommended_until_back(
    riyadh_engine: Engine, api: dict[str, Api], stream: Stream
) -> None:
    segs = straight_segments(riyadh_engine)
    uid = add_unit(riyadh_engine, "CD-OOS-1", "fire_engine", segs[40].lon, segs[40].lat)
    incident = _fire(api["dispatcher"], segs[41].lon, segs[41].lat)
    assert uid in _recommended(api["dispatcher"], incident)

    r = api["supervisor"].post(
        f"/units/{uid}/service", json={"in_service": False, "reason": "pump repair"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["status"] == "out_of_service"
    event = stream.events_until("unit.updated", id=uid)[-1]["payload"]
    assert event["change"] == "out_of_service" and event["reason"] == "pump repair"
    assert event["changes"] == {"status": ["available", "out_of_service"]}
    assert uid not in _recommended(api["dispatcher"], incident)

    r = api["admin"].post(f"/units/{uid}/service", json={"in_service": True})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["status"] == "available"
    assert uid in _recommended(api["dispatcher"], incident)


def test_an_assigned_unit_cannot_be_taken_out_of_service(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    uid = add_unit(riyadh_engine, "CD-BUSY-1", "fire_engine", segs[50].lon, segs[50].lat)
    incident = _fire(api["dispatcher"], segs[51].lon, segs[51].lat)
    r = api["dispatcher"].post(
        f"/incidents/{incident}/assignments", json={"units": [{"unit_id": uid}]}
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    before = _units(riyadh_engine)

    r = api["admin"].post(f"/units/{uid}/service", json={"in_service": False})
    error = assert_error_shape(r, 409, "unit_busy")
    assert number in error["message"]
    assert error["details"]["held_by"] == {"incident_id": incident, "number": number}
    assert _units(riyadh_engine) == before


def test_only_admin_manages_units_and_supervisor_toggles_service(
    riyadh_engine: Engine, server: Server, api: dict[str, Api]
) -> None:
    segs = straight_segments(riyadh_engine)
    uid = add_unit(riyadh_engine, "P-ROLE-1", "patrol_car", segs[60].lon, segs[60].lat)
    new = {"call_sign": "P-ROLE-2", "unit_type": "patrol_car"}
    before = _units(riyadh_engine)
    for role in ("dispatcher", "supervisor", "planner"):
        client = api[role]
        assert_error_shape(client.post("/units", json=new), 403, "forbidden")
        patched = client.http.patch(
            f"{client.base}/units/{uid}", json={"call_sign": "X-1"}, timeout=60
        )
        assert_error_shape(patched, 403, "forbidden")
        assert_error_shape(client.post("/catalogue/reload", json={}), 403, "forbidden")
    for role in ("dispatcher", "planner"):
        toggled = api[role].post(f"/units/{uid}/service", json={"in_service": False})
        assert_error_shape(toggled, 403, "forbidden")
    anonymous = Api(server.url, None)
    assert_error_shape(anonymous.post("/units", json=new), 401, "unauthorized")
    assert_error_shape(anonymous.get("/catalogue"), 401, "unauthorized")
    assert _units(riyadh_engine) == before


def _where(engine: Engine) -> dict[str, float]:
    seg = straight_segments(engine)[70]
    return {"lon": seg.lon, "lat": seg.lat}


BAD_UNITS: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown unit type", {"unit_type": "hovercraft"}, 422, "unknown_unit_type"),
    ("agency not the type's", {"agency": "police"}, 422, "agency_mismatch"),
    ("unknown station", {"station_id": 2_000_000_000}, 422, "unknown_station"),
    ("station of another agency", {"station_id": "POLICE"}, 422, "station_agency_mismatch"),
    ("latitude out of range", {"position": {"lon": 46.7, "lat": 95}}, 400, "invalid_input"),
    ("position not numbers", {"position": {"lon": "46", "lat": 24}}, 400, "invalid_input"),
    ("outside the region", {"position": {"lon": 2.35, "lat": 48.85}}, 422, "outside_region"),
    ("call sign taken", {"call_sign": "CD-TAKEN"}, 409, "call_sign_taken"),
    ("call sign taken, other case", {"call_sign": "cd-taken"}, 409, "call_sign_taken"),
    ("call sign empty", {"call_sign": "  "}, 400, "invalid_input"),
    ("call sign with a newline", {"call_sign": "CD\n1"}, 400, "invalid_input"),
    ("station id not a number", {"station_id": "12"}, 400, "invalid_input"),
    ("unknown field", {"colour": "red"}, 400, "invalid_input"),
    ("no unit type", {"unit_type": None}, 400, "invalid_input"),
]


@pytest.mark.parametrize(
    ("case", "change", "status", "code"), BAD_UNITS, ids=[c[0] for c in BAD_UNITS]
)
def test_bad_new_unit_is_refused_and_nothing_stored(
    riyadh_engine: Engine,
    api: dict[str, Api],
    case: str,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    add_unit(riyadh_engine, "CD-TAKEN", "fire_engine")
    if change.get("station_id") == "POLICE":
        change = {"station_id": _station(riyadh_engine, "police")}
    body = {"call_sign": "CD-BAD-1", "unit_type": "fire_engine", "position": _where(riyadh_engine)}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    before = _units(riyadh_engine)
    assert_error_shape(api["admin"].post("/units", json=body), status, code)
    assert _units(riyadh_engine) == before


def test_bad_unit_changes_are_refused_and_nothing_stored(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    add_unit(riyadh_engine, "CD-OTHER", "fire_engine")
    uid = add_unit(
        riyadh_engine, "CD-EDIT", "fire_engine", station_id=_station(riyadh_engine, "civil_defence")
    )
    admin = api["admin"]
    before = _units(riyadh_engine)
    cases = [
        (uid, {}, 400, "invalid_input"),
        (uid, {"call_sign": "CD-OTHER"}, 409, "call_sign_taken"),
        (uid, {"unit_type": "patrol_car"}, 422, "station_agency_mismatch"),
        (uid, {"unit_type": "hovercraft"}, 422, "unknown_unit_type"),
        (uid, {"station_id": _station(riyadh_engine, "police")}, 422, "station_agency_mismatch"),
        (uid, {"status": "available"}, 400, "invalid_input"),
        (2_000_000_000, {"call_sign": "CD-GONE"}, 404, "not_found"),
    ]
    for unit_id, body, status, code in cases:
        r = admin.http.patch(f"{admin.base}/units/{unit_id}", json=body, timeout=60)
        assert_error_shape(r, status, code)
    assert_error_shape(admin.post(f"/units/{uid}/service", json={"in_service": "no"}), 400)
    assert_error_shape(admin.post("/units/2000000000/service", json={"in_service": False}), 404)
    assert _units(riyadh_engine) == before


# -- catalogue ---------------------------------------------------------------------------
def test_catalogue_is_read_in_arabic_and_english(api: dict[str, Api]) -> None:
    r = api["planner"].get("/catalogue")
    assert r.status_code == 200, r.text
    cat = r.json()
    assert set(cat) == {"agencies", "capabilities", "unit_types", "categories", "incident_types"}
    fire = next(t for t in cat["incident_types"] if t["code"] == "building_fire")
    assert fire["name_en"] and any("\u0600" <= ch <= "\u06ff" for ch in fire["name_ar"])
    assert {"capability": "fire_suppression", "count": 2} in fire["response_plan"]
    caps = {c["code"]: c for c in cat["capabilities"]}
    assert caps["fire_suppression"]["name_ar"] == "إطفاء"
    engine_type = next(t for t in cat["unit_types"] if t["code"] == "fire_engine")
    assert engine_type["agency"] == "civil_defence"
    assert "fire_suppression" in engine_type["capabilities"]

    ar = api["dispatcher"].get("/catalogue", params={"lang": "ar"}).json()
    en = api["dispatcher"].get("/catalogue", params={"lang": "en"}).json()
    for section in cat:
        assert [e["name"] for e in ar[section]] == [e["name_ar"] for e in cat[section]]
        assert [e["name"] for e in en[section]] == [e["name_en"] for e in cat[section]]
    assert_error_shape(api["planner"].get("/catalogue", params={"lang": "fr"}), 400)


def _catalogue_copy(tmp_path: Path) -> Path:
    geo_data = tmp_path / "geo_data"
    shutil.copytree(CATALOGUE, geo_data / "catalogue")
    return geo_data


def test_reload_with_a_broken_catalogue_is_422_and_changes_nothing(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    geo_data = _catalogue_copy(tmp_path)
    # a valid edit in one file and an invalid one in another: neither may be applied
    types = geo_data / "catalogue" / "incident_types.toml"
    types.write_text(
        types.read_text(encoding="utf-8").replace("Building fire", "Big fire"), encoding="utf-8"
    )
    (geo_data / "catalogue" / "zz_broken.toml").write_text(
        '[[unit_type]]\ncode = "drone"\nagency = "police"\nname_en = "Drone"\n'
        'name_ar = "طائرة"\ncapabilities = ["teleport"]\n',
        encoding="utf-8",
    )
    before = _catalogue_rows(riyadh_engine)
    with live_server(riyadh_engine, geo_data_dir=geo_data) as server:
        admin = Api(server.url, token_for(riyadh_engine, "admin"))
        error = assert_error_shape(admin.post("/catalogue/reload", json={}), 422, "import_failed")
        assert "unknown capability teleport" in error["message"]
        assert str(tmp_path) not in str(error)
        assert _catalogue_rows(riyadh_engine) == before
        # the catalogue still reads, labels of the bad files aside
        names = {t["code"]: t["name_en"] for t in admin.get("/catalogue").json()["incident_types"]}
        assert names["building_fire"] != "Big fire"


def test_reload_applies_a_changed_catalogue_and_keeps_types_in_use(
    riyadh_engine: Engine, tmp_path: Path
) -> None:
    geo_data = _catalogue_copy(tmp_path)
    types = geo_data / "catalogue" / "incident_types.toml"
    types.write_text(
        types.read_text(encoding="utf-8").replace(
            'name_en = "Building fire"', 'name_en = "Structure fire"'
        ),
        encoding="utf-8",
    )
    kit = geo_data / "catalogue" / "unit_types.toml"
    text_ = kit.read_text(encoding="utf-8")
    start = text_.index('[[unit_type]]\ncode = "ambulance_bls"')
    end = text_.find("[[", start + 2)
    kit.write_text(text_[:start] + (text_[end:] if end != -1 else ""), encoding="utf-8")
    add_unit(riyadh_engine, "SRC-B-1", "ambulance_bls")
    with live_server(riyadh_engine, geo_data_dir=geo_data) as server:
        admin = Api(server.url, token_for(riyadh_engine, "admin"))
        r = admin.post("/catalogue/reload", json={})
        assert r.status_code == 200, r.text
        assert r.json()["kept_in_use"] == {"unit_type": ["ambulance_bls"]}
        names = {t["code"]: t["name_en"] for t in admin.get("/catalogue").json()["incident_types"]}
        assert names["building_fire"] == "Structure fire"
        assert_error_shape(admin.post("/catalogue/reload", json={"force": True}), 400)
