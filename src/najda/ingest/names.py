"""Names as every importer stores them (boundaries, places, stations, roads).

Source names carry invisible direction marks: some Who's On First Arabic names end in a
LEFT-TO-RIGHT MARK (U+200E), OSM names sometimes hold embeddings or isolates. They make
equal names compare unequal, break search and can reorder text around them on screen, so
they are removed here, once, for every importer: the characters with the Unicode
``Bidi_Control`` property (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and a
stray byte-order mark (U+FEFF). Zero-width joiner and non-joiner stay: they change how
Arabic-script letters join.

An Arabic name must hold an Arabic letter: Who's On First has ``name_ar = "Al Hura"``.
Such a value is treated as missing (counted by the importers), never shown as Arabic.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
# Arabic letters (not digits or punctuation) of the Arabic blocks and presentation forms
_ARABIC_LETTER = re.compile(
    "[\u0620-\u064a\u066e-\u066f\u0671-\u06d3\u06d5\u06ee-\u06ef\u06fa-\u06fc\u06ff"
    "\u0750-\u077f\u08a0-\u08c9\ufb50-\ufd3d\ufd50-\ufdfb\ufe70-\ufefc]"
)


def clean_name(value: Any) -> str | None:
    """``value`` as a name: bidi control marks removed, NFC, single spaces; None if empty.

    >>> clean_name("الضعاين\\u200e ")
    'الضعاين'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", str(value)))
    text = _SPACES.sub(" ", text).strip()
    return text or None


def has_arabic(text: str | None) -> bool:
    """Whether ``text`` holds at least one Arabic letter."""
    return bool(text) and _ARABIC_LETTER.search(text or "") is not None


@dataclass(frozen=True)
class Names:
    """A cleaned English and Arabic name pair.

    Attributes
    ----------
    en, ar
        The names; ``ar`` always holds an Arabic letter when it is not None.
    ar_not_arabic
        The source's Arabic name held no Arabic letter and was dropped (or, when there
        was no English name, used as the English one).
    """

    en: str | None
    ar: str | None
    ar_not_arabic: bool = False


def bilingual(name_en: Any, name_ar: Any) -> Names:
    """Cleaned names; an "Arabic" name without an Arabic letter is not kept as Arabic.

    >>> bilingual("Al Hura", "Al Hura")
    Names(en='Al Hura', ar=None, ar_not_arabic=True)
    """
    en, ar = clean_name(name_en), clean_name(name_ar)
    if ar is None or has_arabic(ar):
        return Names(en, ar)
    return Names(en or ar, None, ar_not_arabic=True)


def name_pair(*, name: Any = None, name_en: Any = None, name_ar: Any = None) -> Names:
    """English and Arabic names from explicit ones and a plain ``name`` of either script
    (OSM's ``name``): an explicit name wins, ``name`` fills the side of its script.

    >>> name_pair(name="شارع الكورنيش", name_en="Corniche Street")
    Names(en='Corniche Street', ar='شارع الكورنيش', ar_not_arabic=False)
    """
    plain = clean_name(name)
    arabic = plain if plain is not None and has_arabic(plain) else None
    latin = plain if plain is not None and arabic is None else None
    names = bilingual(clean_name(name_en) or latin, name_ar)
    return Names(names.en, names.ar or arabic, names.ar_not_arabic)
