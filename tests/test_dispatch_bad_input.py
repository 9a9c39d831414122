"""Bad input is answered 4xx in the one error shape, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from dispatch_helpers import (
    Api,
    Server,
    add_unit,
    assert_error_shape,
    straight_segments,
    token_for,
)

TABLES = ("incident", "incident_event", "assignment", "incident_jurisdiction", "incident_sequence")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _where(engine: Engine) -> dict[str, float]:
    seg = straight_segments(engine)[20]
    return {"lon": seg.lon, "lat": seg.lat}


BAD_CREATES: list[tuple[str, Any, int, str]] = [
    (
        "latitude out of range",
        {"type": "gas_leak", "location": {"lon": 46.6, "lat": 95}},
        400,
        "invalid_input",
    ),
    (
        "longitude out of range",
        {"type": "gas_leak", "location": {"lon": -181, "lat": 24}},
        400,
        "invalid_input",
    ),
    (
        "coordinate not a number",
        {"type": "gas_leak", "location": {"lon": "46", "lat": 24}},
        400,
        "invalid_input",
    ),
    (
        "outside the region",
        {"type": "gas_leak", "location": {"lon": 2.35, "lat": 48.85}},
        422,
        "outside_region",
    ),
    (
        "unknown incident type",
        {"type": "alien_landing", "location": "WHERE"},
        422,
        "unknown_incident_type",
    ),
    ("no location", {"type": "gas_leak"}, 400, "invalid_input"),
    (
        "unknown field",
        {"type": "gas_leak", "location": "WHERE", "colour": "red"},
        400,
        "invalid_input",
    ),
    (
        "priority out of range",
        {"type": "gas_leak", "location": "WHERE", "priority": 9},
        400,
        "invalid_input",
    ),
    (
        "bad caller number",
        {"type": "gas_leak", "location": "WHERE", "caller_number": "abc"},
        400,
        "invalid_input",
    ),
    ("not an object", ["gas_leak"], 400, "invalid_input"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code"), BAD_CREATES, ids=[c[0] for c in BAD_CREATES]
)
def test_bad_incident_is_refused_and_nothing_stored(
    riyadh_engine: Engine, api: dict[str, Api], case: str, body: Any, status: int, code: str
) -> None:
    if isinstance(body, dict) and body.get("location") == "WHERE":
        body = {**body, "location": _where(riyadh_engine)}
    before = _counts(riyadh_engine)
    assert_error_shape(api["dispatcher"].post("/incidents", json=body), status, code)
    assert _counts(riyadh_engine) == before


def test_malformed_json_and_wrong_media_type(riyadh_engine: Engine, server: Server) -> None:
    token = token_for(riyadh_engine, "dispatcher", name="raw")
    before = _counts(riyadh_engine)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = requests.post(
        server.url + "/incidents", data=b'{"type": "gas_leak", "loc', headers=headers, timeout=30
    )
    assert_error_shape(r, 400, "malformed_json")
    r = requests.post(
        server.url + "/incidents",
        data=b"type=gas_leak",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert_error_shape(r, 415)
    assert _counts(riyadh_engine) == before


def test_roles_and_authentication_are_checked(
    riyadh_engine: Engine, server: Server, api: dict[str, Api]
) -> None:
    body = {"type": "gas_leak", "location": _where(riyadh_engine)}
    before = _counts(riyadh_engine)
    assert_error_shape(api["planner"].post("/incidents", json=body), 403, "forbidden")
    assert_error_shape(Api(server.url, None).post("/incidents", json=body), 401)
    assert_error_shape(Api(server.url, "njd_not-a-real-token").get("/incidents"), 401)
    assert_error_shape(Api(server.url, None).get("/units"), 401)
    assert _counts(riyadh_engine) == before
    # the planner reads; only admins list users
    assert api["planner"].get("/incidents").status_code == 200
    assert api["planner"].get("/jurisdictions").status_code == 200
    assert_error_shape(api["dispatcher"].get("/users"), 403)
    assert api["admin"].get("/users").status_code == 200


def test_invalid_transition_and_assignment_change_nothing(
    riyadh_engine: Engine, api: dict[str, Api]
) -> None:
    d = api["dispatcher"]
    seg = straight_segments(riyadh_engine)[60]
    unit = add_unit(riyadh_engine, "E-60", "fire_engine", seg.lon, seg.lat)
    inc = d.post("/incidents", json={"type": "gas_leak", "location": _where(riyadh_engine)}).json()
    before = _counts(riyadh_engine)
    err = assert_error_shape(
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "on_scene"}),
        409,
        "invalid_transition",
    )
    assert err["details"]["current_status"] == "received"
    err = assert_error_shape(
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "dispatched"}),
        409,
        "no_units_assigned",
    )
    assert_error_shape(
        d.post(f"/incidents/{inc['id']}/transitions", json={"status": "teleported"}), 400
    )
    assert_error_shape(
        d.post(
            f"/incidents/{inc['id']}/assignments",
            json={"units": [{"unit_id": unit}, {"unit_id": 99999}]},
        ),
        404,
    )
    assert_error_shape(
        d.post(
            f"/incidents/{inc['id']}/assignments",
            json={"units": [{"unit_id": unit}, {"unit_id": unit}]},
        ),
        400,
    )
    assert_error_shape(
        d.post("/incidents/99999/assignments", json={"units": [{"unit_id": unit}]}), 404
    )
    assert_error_shape(d.get("/incidents/99999"), 404, "not_found")
    assert _counts(riyadh_engine) == before
    with riyadh_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT status FROM unit WHERE id = :u"), {"u": unit}).scalar_one()
            == "available"
        )
    # a cancelled incident takes no units
    d.post(f"/incidents/{inc['id']}/transitions", json={"status": "cancelled"})
    err = assert_error_shape(
        d.post(f"/incidents/{inc['id']}/assignments", json={"units": [{"unit_id": unit}]}),
        409,
        "incident_not_open",
    )
    assert err["details"]["current_status"] == "cancelled"


def test_login_logout_and_tokens(riyadh_engine: Engine, server: Server) -> None:
    token_for(riyadh_engine, "supervisor", name="sara", password="s3cret-pass")
    browser = requests.Session()
    url = server.url
    assert_error_shape(
        browser.post(url + "/auth/login", json={"username": "sara", "password": "wrong"}), 401
    )
    assert_error_shape(
        browser.post(url + "/auth/login", json={"username": "nobody", "password": "wrong"}), 401
    )
    r = browser.post(url + "/auth/login", json={"username": "sara", "password": "s3cret-pass"})
    assert r.status_code == 200 and r.json()["user"]["role"] == "supervisor"
    assert browser.get(url + "/auth/me").json()["user"]["username"] == "sara"

    r = browser.post(url + "/auth/tokens", json={"name": "wall display"})
    assert r.status_code == 201
    secret, token_id = r.json()["token"], r.json()["id"]
    machine = Api(url, secret)
    assert machine.get("/auth/me").json()["user"]["username"] == "sara"
    with riyadh_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT token_hash FROM api_token WHERE id = :i"), {"i": token_id}
        ).scalar_one()
        pw = conn.execute(
            text("SELECT password_hash FROM app_user WHERE username = 'sara'")
        ).scalar_one()
    assert secret not in stored and len(stored) == 64
    assert "s3cret-pass" not in pw and pw.startswith(("scrypt:", "pbkdf2:"))
    listed = browser.get(url + "/auth/tokens").json()["tokens"]
    assert token_id in [t["id"] for t in listed] and all("token" not in t for t in listed)

    assert browser.delete(url + f"/auth/tokens/{token_id}").status_code == 200
    assert_error_shape(machine.get("/auth/me"), 401)
    assert browser.post(url + "/auth/logout").status_code == 200
    assert_error_shape(browser.get(url + "/auth/me"), 401)
