"""The incident lifecycle: a small state machine, pure and table-driven.

::

    received -> dispatched -> en_route -> on_scene -> cleared -> closed
        \\______________\\___________\\__________-> cancelled

``reopen`` (supervisor) brings a cleared, closed or cancelled incident back to
``received``. Each status has the incident column that time-stamps reaching it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from najda.errors import Conflict, InvalidInput

STATUSES = ("received", "dispatched", "en_route", "on_scene", "cleared", "closed", "cancelled")
#: statuses in which the incident still needs or holds units
OPEN_STATUSES = frozenset({"received", "dispatched", "en_route", "on_scene"})
#: statuses after which the incident's units are released
RELEASING_STATUSES = frozenset({"cleared", "cancelled"})

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "received": frozenset({"dispatched", "cancelled"}),
    "dispatched": frozenset({"en_route", "on_scene", "cancelled"}),
    "en_route": frozenset({"on_scene", "cancelled"}),
    "on_scene": frozenset({"cleared"}),
    "cleared": frozenset({"closed", "received"}),
    "closed": frozenset({"received"}),
    "cancelled": frozenset({"received"}),
}

#: the timestamp column set when an incident enters each status
TIMESTAMP_COLUMN: Mapping[str, str] = {s: f"{s}_at" for s in STATUSES}

#: the unit status that follows the incident status (for its active assignments)
UNIT_STATUS_FOR: Mapping[str, str] = {
    "dispatched": "dispatched",
    "en_route": "en_route",
    "on_scene": "on_scene",
}

#: a unit's own progress on its assignment, in order, and the column stamping each step
UNIT_PROGRESS = ("dispatched", "en_route", "on_scene")
PROGRESS_COLUMN: Mapping[str, str] = {"en_route": "en_route_at", "on_scene": "on_scene_at"}


@dataclass(frozen=True)
class Step:
    """One accepted move of the machine."""

    from_status: str
    to_status: str
    kind: str  # "transition" or "reopen"

    @property
    def timestamp_column(self) -> str:
        return TIMESTAMP_COLUMN[self.to_status]

    @property
    def releases_units(self) -> bool:
        return self.to_status in RELEASING_STATUSES

    @property
    def needs_override(self) -> bool:
        """A reopen is a supervisor's decision."""
        return self.kind == "reopen"


def step(current: str, target: str) -> Step:
    """The step from ``current`` to ``target``, or :class:`Conflict` carrying the state.

    Raises
    ------
    InvalidInput
        ``target`` is not a status at all.
    Conflict
        The move is not allowed from ``current``; details name the current status and
        the statuses reachable from it.
    """
    if target not in STATUSES:
        raise InvalidInput(
            f"unknown status: {target!r}", details={"status": target, "known": list(STATUSES)}
        )
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise Conflict(
            f"cannot move an incident from {current} to {target}",
            code="invalid_transition",
            details={"current_status": current, "requested": target, "allowed": sorted(allowed)},
        )
    kind = "reopen" if target == "received" else "transition"
    return Step(from_status=current, to_status=target, kind=kind)


def accepts_assignments(status: str) -> bool:
    return status in OPEN_STATUSES
