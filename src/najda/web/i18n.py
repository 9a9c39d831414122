"""English and Arabic for the pages: labels, language choice and the two calendars.

Labels come from small JSON catalogues (``web/static/i18n/messages.json`` for the map,
``web/static/console/messages.json`` for the console), one object per language; English
fills any label a language lacks, so a page never shows a bare key. This is the
"equivalent small catalogue" to Flask-Babel: no compile step, and the same labels reach
the page's scripts as JSON.

A language is picked per request: ``?lang=`` first, then the language remembered in a
cookie, then the browser's Accept-Language, then Arabic (the centres work in Arabic first).

Dates are shown in the Gregorian and the Umm al-Qura Hijri calendar (``hijridate``), in
the region's zone (Asia/Riyadh).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hijridate import Gregorian

LANGUAGES = ("ar", "en")
DEFAULT_LANGUAGE = "ar"
RTL = frozenset({"ar"})
LANG_COOKIE = "najda_lang"
DEFAULT_ZONE = "Asia/Riyadh"
_ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_GREGORIAN_MONTHS_AR = (
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
)


@dataclass(frozen=True)
class Locale:
    lang: str
    messages: dict[str, str]

    @property
    def direction(self) -> str:
        return "rtl" if self.lang in RTL else "ltr"

    @property
    def other(self) -> str:
        return "en" if self.lang == "ar" else "ar"

    def __getitem__(self, key: str) -> str:
        return self.messages.get(key, key)


@lru_cache(maxsize=8)
def _catalogue(path: Path, mtime: float) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_messages(path: Path) -> dict[str, dict[str, str]]:
    return _catalogue(path, path.stat().st_mtime)


def choose_language(
    requested: str | None, accept_best: str | None, remembered: str | None = None
) -> str:
    """The explicit choice when supported, else the remembered one, the browser's, Arabic."""
    for candidate in (requested, remembered, accept_best):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def locale_for(path: Path | Iterable[Path], lang: str) -> Locale:
    """The labels of ``lang`` from one catalogue or several (later ones win)."""
    paths = [path] if isinstance(path, Path) else list(path)
    merged: dict[str, str] = {}
    for p in paths:
        catalogue = load_messages(p)
        merged.update(catalogue["en"])
    for p in paths:
        merged.update(load_messages(p).get(lang, {}))
    return Locale(lang=lang, messages=merged)


# -- numbers and dates ------------------------------------------------------------------
def digits(text: str, lang: str) -> str:
    """Arabic-Indic digits in Arabic (as ar-SA shows numbers), Western ones in English."""
    return text.translate(_ARABIC_DIGITS) if lang == "ar" else text


def hijri_parts(day: date) -> tuple[int, int, int]:
    """The Umm al-Qura date (year, month, day) of a Gregorian day."""
    h = Gregorian(day.year, day.month, day.day).to_hijri()
    return h.year, h.month, h.day


def hijri_label(day: date, lang: str) -> str:
    """``12 Jumada al-Akhirah 1448 AH`` / ``١٢ جمادى الآخرة ١٤٤٨ هـ``."""
    h = Gregorian(day.year, day.month, day.day).to_hijri()
    if lang == "ar":
        return digits(f"{h.day} {h.month_name('ar')} {h.year} هـ", lang)
    return f"{h.day} {h.month_name('en')} {h.year} AH"


def gregorian_label(day: date, lang: str) -> str:
    """``22 November 2026`` / ``٢٢ نوفمبر ٢٠٢٦ م``."""
    if lang == "ar":
        return digits(f"{day.day} {_GREGORIAN_MONTHS_AR[day.month - 1]} {day.year} م", lang)
    return f"{day.day} {day.strftime('%B')} {day.year}"


def local_day(moment: datetime, zone: str = DEFAULT_ZONE) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def calendar_table(
    today: date, lang: str, *, days_back: int = 45, days_ahead: int = 2
) -> dict[str, dict[str, Any]]:
    """Both calendars for the days around ``today``, keyed by ISO date.

    The console's scripts label every time stamp with it, so the page never converts
    to Hijri itself (browsers disagree on Umm al-Qura at the edges of its range).
    """
    table: dict[str, dict[str, Any]] = {}
    for offset in range(-days_back, days_ahead + 1):
        day = today + timedelta(days=offset)
        table[day.isoformat()] = {
            "gregorian": gregorian_label(day, lang),
            "hijri": hijri_label(day, lang),
            "hijri_ymd": list(hijri_parts(day)),
        }
    return table
