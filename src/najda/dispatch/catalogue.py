"""Read access to the catalogue: incident types and their response plans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from najda.dispatch.plans import Requirement, parse_plan
from najda.dispatch.store import transaction
from najda.errors import Unprocessable


@dataclass(frozen=True)
class IncidentType:
    id: int
    code: str
    category: str
    name_en: str
    name_ar: str
    default_priority: int
    response_plan: tuple[Requirement, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "category": self.category,
            "name_en": self.name_en,
            "name_ar": self.name_ar,
            "default_priority": self.default_priority,
            "response_plan": [
                {"capability": r.capability, "count": r.count} for r in self.response_plan
            ],
        }


_COLUMNS = "id, code, category, name_en, name_ar, default_priority, response_plan"


def _from_row(row: Any) -> IncidentType:
    return IncidentType(
        id=row.id,
        code=row.code,
        category=row.category,
        name_en=row.name_en,
        name_ar=row.name_ar,
        default_priority=row.default_priority,
        response_plan=tuple(parse_plan(row.response_plan or [])),
    )


def incident_type_by_code(conn: Connection, code: str) -> IncidentType:
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM incident_type WHERE code = :c"), {"c": code}
    ).first()
    if row is None:
        raise Unprocessable(
            f"unknown incident type: {code}", code="unknown_incident_type", details={"type": code}
        )
    return _from_row(row)


def incident_type_by_id(conn: Connection, type_id: int) -> IncidentType:
    return _from_row(
        conn.execute(
            text(f"SELECT {_COLUMNS} FROM incident_type WHERE id = :i"), {"i": type_id}
        ).one()
    )


def list_incident_types(engine: Engine) -> list[IncidentType]:
    with transaction(engine) as conn:
        rows = conn.execute(text(f"SELECT {_COLUMNS} FROM incident_type ORDER BY code")).all()
    return [_from_row(r) for r in rows]
