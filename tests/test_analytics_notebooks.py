"""The planner notebooks run top to bottom against a real database (nbclient, bounded)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import Engine

from najda.config import project_root

NOTEBOOKS = project_root() / "notebooks"


@pytest.mark.parametrize("name", ["coverage_gaps.ipynb", "station_siting.ipynb"])
def test_notebook_runs_and_plots(
    riyadh_engine: Engine, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", riyadh_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("NAJDA_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    if name == "coverage_gaps.ipynb":
        assert (tmp_path / "gaps.geojson").stat().st_size > 1000
