"""The README documents every setting, and the two commands CI and people run."""

from __future__ import annotations

from najda.config import project_root, setting_variables


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (project_root() / "README.md").read_text()
    missing = [var for var in setting_variables().values() if f"`{var}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    root = project_root()
    readme = (root / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (root / ".ci" / "run").read_text()
