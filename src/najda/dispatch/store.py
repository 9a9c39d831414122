"""The one place where database errors become domain errors.

Every dispatch service opens its transactions through :func:`transaction`; a constraint
violation the schema uses on purpose becomes the matching :mod:`najda.errors` class,
anything else from the driver becomes a safe 503/500 whose details are only logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from najda.errors import Conflict, InvalidInput, NajdaError, Unavailable

log = logging.getLogger(__name__)

ACTIVE_ASSIGNMENT_INDEX = "ux_assignment_active_unit"


class UnitBusy(Conflict):
    """The unit already holds an active assignment (the partial unique index said so)."""

    code = "unit_busy"


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction; commits on success, rolls back and translates on failure."""
    try:
        with engine.begin() as conn:
            yield conn
    except NajdaError:
        raise
    except IntegrityError as exc:
        raise translate_integrity_error(exc) from exc
    except DataError as exc:
        raise InvalidInput("a value is out of its allowed range") from exc
    except OperationalError as exc:
        log.exception("database unavailable")
        raise Unavailable(
            "the database is not available; try again", code="database_unavailable"
        ) from exc
    except DBAPIError as exc:
        log.exception("database error")
        raise NajdaError("the request could not be stored") from exc


def _constraint(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _detail(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "message_detail", None) or ""


def translate_integrity_error(exc: IntegrityError) -> NajdaError:
    name = _constraint(exc)
    if name == ACTIVE_ASSIGNMENT_INDEX:
        match = re.search(r"\(unit_id\)=\((\d+)\)", _detail(exc))
        unit_id = int(match.group(1)) if match else None
        return UnitBusy("the unit is already assigned to an incident", details={"unit_id": unit_id})
    if name == "app_user_username_key":
        return Conflict("a user with this name exists", code="user_exists")
    if name == "unit_call_sign_key":
        return Conflict("a unit with this call sign exists", code="call_sign_taken")
    if name.endswith("_check") or name.endswith("_known") or name.endswith("_range"):
        return InvalidInput("a value is out of its allowed range", details={"constraint": name})
    log.warning("integrity error %s: %s", name, _detail(exc))
    return Conflict("the change conflicts with stored data", details={"constraint": name})
