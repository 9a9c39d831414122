"""Travel-time profiles: a factor per road class and hour of the day.

A profile multiplies each edge's base (free-flow) travel time by the factor of its road
class at the local hour a question is asked for: 1.5 at 08:00 on ``primary`` roads means
those roads take 50 % longer then. Classes and hours a profile does not name keep its
``default`` factor. :data:`FREE_FLOW` (every factor 1) reproduces the plain travel times
exactly, because the weights it gives are the stored times themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from najda.errors import InvalidInput
from najda.routing.graph import FloatArray, RoadGraph

HOURS = 24


@dataclass(frozen=True)
class TravelTimeProfile:
    """Per-class, per-hour multipliers of the base travel time.

    Parameters
    ----------
    name
        Shown in rankings and logs.
    factors
        Road class (OSM ``highway`` value) -> 24 factors, one per local hour 0..23.
    default
        Factor of classes not in ``factors``.
    timezone
        IANA zone that "hour of the day" refers to; naive datetimes are taken as local
        time in it.
    """

    name: str
    factors: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    default: float = 1.0
    timezone: str = "Asia/Riyadh"

    def __post_init__(self) -> None:
        clean: dict[str, tuple[float, ...]] = {}
        for cls, values in self.factors.items():
            row = tuple(float(v) for v in values)
            if len(row) != HOURS:
                raise InvalidInput(
                    f"profile {self.name}: {cls} needs 24 hourly factors",
                    details={"class": cls, "given": len(row)},
                )
            clean[cls] = row
        if not all(v > 0 and np.isfinite(v) for row in clean.values() for v in row):
            raise InvalidInput(f"profile {self.name}: factors must be positive")
        if not (self.default > 0 and np.isfinite(self.default)):
            raise InvalidInput(f"profile {self.name}: default factor must be positive")
        object.__setattr__(self, "factors", clean)

    def hour(self, at: datetime | None) -> int:
        """Local hour of ``at`` (now when None) in the profile's timezone."""
        zone = ZoneInfo(self.timezone)
        if at is None:
            return datetime.now(zone).hour
        if at.tzinfo is None:
            return at.hour
        return at.astimezone(zone).hour

    def class_factors(self, classes: Sequence[str], hour: int) -> tuple[float, ...]:
        """Factor of each class in ``classes`` at ``hour``."""
        return tuple(self.factors[c][hour] if c in self.factors else self.default for c in classes)

    def is_free_flow(self) -> bool:
        return self.default == 1.0 and all(v == 1.0 for r in self.factors.values() for v in r)


FREE_FLOW = TravelTimeProfile("free_flow")


def peak_profile(
    name: str,
    *,
    classes: Iterable[str],
    hours: Iterable[int],
    factor: float,
    timezone: str = "Asia/Riyadh",
) -> TravelTimeProfile:
    """A profile that slows ``classes`` by ``factor`` during ``hours`` (1 otherwise).

    Examples
    --------
    >>> rush = peak_profile("weekday_rush", classes=["primary", "secondary"],
    ...                     hours=[7, 8, 13, 14], factor=1.6)
    """
    peak = set(hours)
    row = tuple(factor if h in peak else 1.0 for h in range(HOURS))
    return TravelTimeProfile(name, {c: row for c in classes}, timezone=timezone)


def edge_weights(
    graph: RoadGraph, profile: TravelTimeProfile | None, at: datetime | None
) -> tuple[FloatArray, tuple[object, ...], int | None]:
    """Per-edge travel times for ``profile`` at ``at``, a cache key, and the hour used.

    The free-flow profile (or None) returns the stored base times themselves.
    """
    if profile is None or profile.is_free_flow():
        return graph.travel_time_s, ("free_flow",), None
    hour = profile.hour(at)
    factors = np.asarray(profile.class_factors(graph.highway_classes, hour))
    if np.all(factors == 1.0):
        return graph.travel_time_s, ("free_flow",), hour
    weights = graph.travel_time_s * factors[graph.highway_code]
    return weights, ("profile", tuple(factors.tolist())), hour
