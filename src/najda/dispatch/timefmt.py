"""Time: stored in UTC, shown in the region's zone (Asia/Riyadh by default)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Riyadh"


def utcnow() -> datetime:
    return datetime.now(UTC)


def shown(moment: datetime | None, zone: str = DEFAULT_ZONE) -> str | None:
    """ISO 8601 in ``zone`` with its offset (the same instant as the stored UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).isoformat()


def local_year(moment: datetime, zone: str = DEFAULT_ZONE) -> int:
    return moment.astimezone(ZoneInfo(zone)).year
