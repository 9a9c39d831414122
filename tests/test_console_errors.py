"""Every error code the server can answer has an Arabic and an English message in the
console's catalogue (web/static/console/messages.json, keys ``error_<code>``), so a new
code without a translation fails here.

The codes are found, not listed by hand: every :class:`najda.errors.NajdaError` subclass
in the package (its class ``code``), every ``code="..."`` given to one of them anywhere
in ``src/najda``, every literal code of the web layer's ``error_body``, and the codes the
HTTP errors that Flask and Werkzeug raise by themselves get. The last are also provoked
through the real app, to show that the finder sees what the server really answers.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from werkzeug import exceptions as wz

import najda
from dispatch_helpers import app_for, sign_in
from najda.config import project_root
from najda.errors import NajdaError
from najda.web.errors import _http_code

CATALOGUE = project_root() / "web" / "static" / "console" / "messages.json"
SRC = project_root() / "src" / "najda"
# what Flask and Werkzeug raise on their own: bad request, unknown route, wrong method,
# a body that is not JSON, a body over the size limit
FRAMEWORK_ERRORS = (
    wz.BadRequest,
    wz.NotFound,
    wz.MethodNotAllowed,
    wz.UnsupportedMediaType,
    wz.RequestEntityTooLarge,
)
# answered by the console's own API client: no answer at all, an answer that is not the
# error shape (e.g. a proxy's HTML page), and a status without a code
CLIENT_CODES = {"network_error", "bad_response", "http_error"}


def _error_classes() -> set[type[NajdaError]]:
    for module in pkgutil.walk_packages(najda.__path__, "najda."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: set[type[NajdaError]] = set()
    todo = [NajdaError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _literal_codes(error_names: set[str]) -> Iterator[tuple[str, str]]:
    """(code, where) of every ``code="..."`` given to an error class, and every literal
    first argument of ``error_body``."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            if name in error_names:
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        yield str(kw.value.value), where
            elif name == "error_body" and node.args and isinstance(node.args[0], ast.Constant):
                yield str(node.args[0].value), where


def server_error_codes() -> dict[str, str]:
    """Every error code the server can answer, with where it comes from."""
    classes = _error_classes()
    codes = {cls.code: f"{cls.__module__}.{cls.__qualname__}" for cls in classes}
    codes.update(dict(_literal_codes({cls.__name__ for cls in classes})))
    codes.update({_http_code(exc()): f"werkzeug {exc.__name__}" for exc in FRAMEWORK_ERRORS})
    return codes


def messages() -> dict[str, dict[str, str]]:
    catalogue: dict[str, dict[str, str]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return catalogue


def test_the_finder_sees_the_codes_it_must() -> None:
    codes = server_error_codes()
    # class codes, codes given at the raise, and the framework's
    for code in ("off_network", "unit_busy", "malformed_json", "incident_not_open"):
        assert code in codes
    assert {"not_found", "method_not_allowed", "unsupported_media_type"} <= set(codes)
    assert len(codes) > 40


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_error_code_has_a_message(lang: str) -> None:
    catalogue = messages()[lang]
    wanted = set(server_error_codes()) | CLIENT_CODES
    missing = sorted(code for code in wanted if not catalogue.get(f"error_{code}", "").strip())
    assert missing == [], f"no {lang} message for: {missing}"
    # and none that no code needs (a renamed code leaves no stale message behind)
    extra = sorted(
        k[6:]
        for k in catalogue
        if k.startswith("error_") and k[6:] not in wanted and not k.startswith("error_status_")
    )
    assert extra == []


def test_arabic_messages_are_arabic_and_placeholders_match() -> None:
    cat = messages()
    for key, english in cat["en"].items():
        if not key.startswith("error_"):
            continue
        arabic = cat["ar"][key]
        assert any("\u0600" <= ch <= "\u06ff" for ch in arabic), key
        assert _placeholders(arabic) == _placeholders(english), key


def _placeholders(text: str) -> set[str]:
    import re

    return set(re.findall(r"\{([a-z_.]+)\}", text))


@pytest.fixture
def client(engine: Engine) -> Iterator[Any]:
    app = app_for(engine)
    yield sign_in(app.test_client(), engine, role="dispatcher")
    app.extensions["najda"].engine.dispose()


def test_the_codes_the_app_really_answers_are_translated(client: Any) -> None:
    catalogue = messages()
    answers = [
        client.get("/api/v1/no-such-route"),
        client.delete("/api/v1/incidents"),
        client.post("/api/v1/incidents", data="x", content_type="text/plain"),
        client.post("/api/v1/incidents", data="{bad", content_type="application/json"),
        client.get("/api/v1/incidents/999999"),
        client.post("/api/v1/incidents", json={"type": "nope", "location": {"lon": 0, "lat": 0}}),
    ]
    codes = []
    for response in answers:
        assert response.status_code >= 400
        codes.append(response.get_json()["error"]["code"])
    assert len(set(codes)) >= 5, codes
    for code in codes:
        assert code in server_error_codes(), code
        for lang in ("ar", "en"):
            assert catalogue[lang].get(f"error_{code}"), (lang, code)


def test_the_console_client_maps_codes_through_the_catalogue() -> None:
    source = (project_root() / "web" / "static" / "console" / "api.js").read_text()
    assert "error_${" in source  # looks the message up by the error's code
    for code in CLIENT_CODES:
        assert f"'{code}'" in source, code
