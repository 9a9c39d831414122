"""The OsmAnd protocol endpoint ``/osmand``, answering as Traccar's server does.

Traccar Client (Android and iOS), OsmAnd and many hardware trackers report here with no
custom app: set the client's server URL to ``https://<host>/osmand?token=<device token>``
and its device identifier to the unit's device id (both from
``POST /api/v1/avl/units/{unit_id}/credentials``).

Answers, as Traccar's ``OsmAndProtocolDecoder`` gives them:

* ``200`` with an empty body when the report is taken: stored, a duplicate of a stored
  fix, or refused by validation (a fix from the future, impossible coordinates). Traccar
  also answers 200 and filters such positions afterwards; a client that got anything
  else would resend the same report forever and block its queue. The refusal reason is
  in the ``X-Najda-Refused`` header (clients ignore it) and the log.
* ``400`` when there is no device id or a value cannot be read (Traccar: 400).

Where Najda differs on purpose: an unknown device *or* a wrong or missing token is
``401`` with one and the same body (Traccar answers 400 or 404 for an unknown device and
has no tokens), so the answer never says whether a device id exists. Error bodies use
the project's error shape.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, request

from najda.avl import ingest, osmand
from najda.avl.osmand import OsmAndReport
from najda.web.api.avl import bearer_token
from najda.web.state import engine

log = logging.getLogger(__name__)

bp = Blueprint("osmand", __name__)

REFUSED_HEADER = "X-Najda-Refused"


def _token() -> str | None:
    token = request.values.get("token") or bearer_token()
    if token:
        return token
    auth = request.authorization
    return auth.password if auth is not None and auth.password else None


def _report() -> OsmAndReport:
    if request.mimetype == "application/json":
        return osmand.parse_json(request.get_json())
    return osmand.parse_query(request.values, now=datetime.now(UTC))


def _answer(result: ingest.IngestResult) -> Response:
    response = Response(b"", status=200, mimetype="text/plain")
    if result.refused:
        codes = sorted({r.code for _, r in result.refused})
        response.headers[REFUSED_HEADER] = ",".join(codes)
        log.info(
            "osmand: unit %s sent %d refused fix(es): %s",
            result.unit.call_sign,
            len(result.refused),
            codes,
        )
    return response


@bp.route("/osmand", methods=["GET", "POST"])
def report() -> Response:
    decoded = _report()
    credentials = ingest.Credentials(token=_token(), device_id=decoded.device_id)
    return _answer(ingest.report(engine(), credentials, decoded.fixes))
