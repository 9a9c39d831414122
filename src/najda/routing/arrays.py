"""Named numpy arrays in a folder: written once, atomically, then memory-mapped.

A folder holds one ``.npy`` file per array and ``meta.json`` (small values). It is written
under a temporary name and renamed into place, so a reader sees a complete folder or
none; two processes writing the same folder at once both succeed (the loser's copy is
discarded). Arrays are opened with ``mmap_mode="r"``: every process of a server shares
the same pages of the page cache instead of holding its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

META = "meta.json"


def save_arrays(folder: Path, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> bool:
    """Write ``arrays`` and ``meta`` as ``folder``; False when it already existed.

    Raises
    ------
    OSError
        The parent folder cannot be written.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    if (folder / META).is_file():
        return False
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, values in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)
        # meta last: a folder with meta.json is complete
        (tmp / META).write_text(json.dumps({**meta, "arrays": sorted(arrays)}), encoding="utf-8")
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / META).is_file():
                raise
            return False  # another process wrote it first
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_arrays(folder: Path) -> tuple[dict[str, NDArray[Any]], dict[str, Any]] | None:
    """The arrays (read-only memory maps) and meta of ``folder``, or None when the
    folder is missing or incomplete."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    arrays = {}
    for name in meta.pop("arrays"):
        path = folder / f"{name}.npy"
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError:  # an empty array cannot be mapped
            mapped = np.load(path, allow_pickle=False)
            mapped.flags.writeable = False
        # a plain read-only ndarray view: compiled code takes it like any other array
        arrays[name] = mapped.view(np.ndarray)
    return arrays, meta


def folder_bytes(folder: Path) -> int:
    """Bytes of the files in ``folder`` and below."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
