"""The planner page's words: every label exists in Arabic and English, and every label
the page's script and templates ask for is in the catalogues."""

from __future__ import annotations

import json
import re

from najda.config import project_root

WEB = project_root() / "web"
CATALOGUES = [
    WEB / "static" / "i18n" / "messages.json",
    WEB / "static" / "planner" / "messages.json",
]


def _catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in CATALOGUES:
        merged.update(json.loads(path.read_text(encoding="utf-8"))[lang])
    return merged


def test_every_planner_label_exists_in_both_languages() -> None:
    planner = json.loads(CATALOGUES[1].read_text(encoding="utf-8"))
    assert set(planner["en"]) == set(planner["ar"])
    assert all(v.strip() for lang in ("en", "ar") for v in planner[lang].values())
    # placeholders survive translation
    for key, text in planner["en"].items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", planner["ar"][key]))


def test_the_page_asks_only_for_labels_the_catalogues_hold() -> None:
    script = (WEB / "static" / "planner" / "planner.js").read_text(encoding="utf-8")
    templates = "".join(p.read_text(encoding="utf-8") for p in WEB.glob("templates/planner*.html"))
    asked = set(re.findall(r"\bt\('([a-z_]+)'\)", script))
    asked |= set(re.findall(r"\bt\.([a-z_]+)\b", templates)) - {"lang", "direction", "other"}
    # labels built from a prefix and a value the page knows
    asked |= {f"placement_{p}" for p in ("roads", "none")}
    asked |= {f"state_{s}" for s in ("gained", "covered", "uncovered")}
    asked |= {"error_solver_time_limit", "siting_exact", "siting_pool"}
    for lang in ("en", "ar"):
        assert asked - set(_catalogue(lang)) == set()
