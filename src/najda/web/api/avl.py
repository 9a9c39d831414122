"""AVL over the JSON API: field units report fixes and status; people read tracks.

Field units authenticate with ``Authorization: Bearer <device token>`` (the token an
admin issued with ``POST /avl/units/{unit_id}/credentials``). People use their usual
session or API token (read for tracks, admin for credentials).

* ``POST /avl/positions``: one fix, or ``{"fixes": [...]}`` (at most
  :data:`najda.avl.ingest.MAX_BATCH`); see :mod:`najda.avl.payload` for the format.
  A refused single fix is a 422 naming the reason; in a batch, refused fixes are listed
  (``refused: [{index, code, message}]``) and the others stored.
* ``POST /avl/status``: ``{"status": "en_route" | "on_scene" | "available"}``.
* ``GET /avl/units/{unit_id}/track`` and ``GET /avl/tracks?units=1,2``: GeoJSON, for a
  window ``from``/``to`` (ISO 8601 or Unix time; default the last hour).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request

from najda.avl import credentials as creds
from najda.avl import ingest, payload, tracks
from najda.avl.fixes import parse_time
from najda.avl.status import report_status
from najda.errors import InvalidInput
from najda.web.api import bp, json_body
from najda.web.api.auth import authorized
from najda.web.api.geo import geojson_response
from najda.web.state import engine, web_state


def bearer_token() -> str | None:
    """The bearer token of the request, or None (an absent or other scheme)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def device_token() -> str:
    """The device's bearer token; without one, the same 401 as a wrong one."""
    token = bearer_token()
    if token is None:
        raise creds.DeviceUnauthorized()
    return token


@bp.post("/avl/positions")
def post_positions() -> Response:
    token = device_token()
    fixes, batch = payload.fixes_from_body(json_body())
    credentials = ingest.Credentials(token=token)
    if batch:
        result = ingest.report(engine(), credentials, fixes)
    else:
        result = ingest.report_one(engine(), credentials, fixes[0])
    return jsonify(result.as_dict())


@bp.post("/avl/status")
def post_status() -> Response:
    token = device_token()
    status = json_body().get("status")
    if not isinstance(status, str):
        raise InvalidInput("status must be a string", details={"field": "status"})
    unit = creds.authenticate_device(engine(), token=token)
    return jsonify(report_status(engine(), unit, status).as_dict())


def _time_param(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_time(raw)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{name} must be ISO 8601 or Unix time", details={"parameter": name}
        ) from exc


def _window() -> tracks.Window:
    now = datetime.now(UTC)
    start, end = _time_param("from"), _time_param("to")
    default = tracks.default_window(end or now)
    return tracks.Window(start or default.start, end or default.end)


def _unit_ids(raw: str | None) -> list[int]:
    try:
        ids = [int(part) for part in (raw or "").split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            "units must be unit ids separated by commas", details={"parameter": "units"}
        ) from None
    if not ids or any(i < 1 or i > 2_147_483_647 for i in ids):
        raise InvalidInput("units must name at least one unit id", details={"parameter": "units"})
    return ids


def _tracks(unit_ids: list[int]) -> Response:
    user = authorized("read")
    return geojson_response(
        tracks.tracks(
            engine(),
            unit_ids,
            _window(),
            by=user,
            max_age_s=web_state().settings.position_max_age_s,
        )
    )


@bp.get("/avl/units/<int:unit_id>/track")
def unit_track(unit_id: int) -> Response:
    return _tracks([unit_id])


@bp.get("/avl/tracks")
def playback_tracks() -> Response:
    return _tracks(_unit_ids(request.args.get("units")))


def credentials_json(issued: creds.IssuedCredentials) -> dict[str, Any]:
    root = request.url_root.rstrip("/")
    return {
        "unit_id": issued.unit_id,
        "call_sign": issued.call_sign,
        "device_id": issued.device_id,
        "token": issued.token,
        "osmand_url": f"{root}/osmand?token={issued.token}",
    }


@bp.post("/avl/units/<int:unit_id>/credentials")
def issue_credentials(unit_id: int) -> tuple[Response, int]:
    user = authorized("admin")
    body = json_body() if request.content_length else {}
    device_id = body.get("device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidInput("device_id must be a string", details={"field": "device_id"})
    issued = creds.issue_credentials(engine(), unit_id=unit_id, by=user, device_id=device_id)
    return jsonify(credentials_json(issued)), 201


@bp.delete("/avl/units/<int:unit_id>/credentials")
def revoke_credentials(unit_id: int) -> Response:
    user = authorized("admin")
    creds.revoke_credentials(engine(), unit_id=unit_id, by=user)
    return jsonify({"unit_id": unit_id, "revoked": True})


# -- OpenAPI ------------------------------------------------------------------------------
def _schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answers(
    ok: dict[str, Any], *codes: str, media: str = "application/json", status: str = "200"
) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _schema("Error")}}}
    return {
        status: {"description": "OK", "content": {media: {"schema": ok}}},
        **{c: {"description": "error", **error} for c in codes},
    }


_NUM = {"type": "number"}
_FIX = {
    "type": "object",
    "additionalProperties": False,
    "required": ["time", "lat", "lon"],
    "properties": {
        "time": {"oneOf": [{"type": "string"}, _NUM]},
        "lat": _NUM,
        "lon": _NUM,
        "speed": _NUM,
        "heading": _NUM,
        "accuracy": _NUM,
        "altitude": _NUM,
        "battery": _NUM,
    },
}
_RESULT = {
    "type": "object",
    "additionalProperties": True,
    "required": ["unit_id", "stored", "duplicates", "refused"],
}
_WINDOW = [
    {
        "name": n,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "ISO 8601 or Unix time",
    }
    for n in ("from", "to")
]
_UNIT = {
    "name": "unit_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647},
}
_DEVICE: list[dict[str, list[str]]] = [{"bearerAuth": []}]  # a device token


def openapi_paths() -> dict[str, Any]:
    """This module's part of the OpenAPI document (called by :mod:`.openapi`)."""
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _FIX,
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["fixes"],
                            "properties": {
                                "fixes": {
                                    "type": "array",
                                    "items": _FIX,
                                    "minItems": 1,
                                    "maxItems": ingest.MAX_BATCH,
                                }
                            },
                        },
                    ]
                }
            }
        },
    }
    status = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["en_route", "on_scene", "available"]}
                    },
                }
            }
        },
    }
    geojson = _schema("FeatureCollection")
    return {
        "/avl/positions": {
            "post": {
                "summary": "A field unit reports one fix or a batch",
                "tags": ["avl"],
                "security": _DEVICE,
                "requestBody": body,
                "responses": _answers(_RESULT, "400", "401", "415", "422", "503"),
            }
        },
        "/avl/status": {
            "post": {
                "summary": "A field unit reports its status",
                "tags": ["avl"],
                "security": _DEVICE,
                "requestBody": status,
                "responses": _answers({"type": "object"}, "400", "401", "409", "415", "503"),
            }
        },
        "/avl/units/{unit_id}/track": {
            "get": {
                "summary": "A unit's track in a time window (GeoJSON)",
                "tags": ["avl"],
                "parameters": [_UNIT, *_WINDOW],
                "responses": _answers(
                    geojson, "400", "401", "403", "404", "503", media="application/geo+json"
                ),
            }
        },
        "/avl/tracks": {
            "get": {
                "summary": "Tracks of several units for playback (GeoJSON)",
                "tags": ["avl"],
                "parameters": [
                    {
                        "name": "units",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "example": "1,2,3"},
                    },
                    *_WINDOW,
                ],
                "responses": _answers(
                    geojson, "400", "401", "403", "404", "503", media="application/geo+json"
                ),
            }
        },
        "/avl/units/{unit_id}/credentials": {
            "post": {
                "summary": "Issue a unit's device id and token (admin)",
                "tags": ["avl"],
                "parameters": [_UNIT],
                "responses": _answers(
                    {"type": "object"},
                    "400",
                    "401",
                    "403",
                    "404",
                    "409",
                    "415",
                    "503",
                    status="201",
                ),
            },
            "delete": {
                "summary": "Revoke a unit's device token (admin)",
                "tags": ["avl"],
                "parameters": [_UNIT],
                "responses": _answers({"type": "object"}, "401", "403", "404", "503"),
            },
        },
    }
