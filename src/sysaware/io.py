"""Small helpers for outputs that must never survive half-written.

Every output goes through :func:`temporary_path`: it is written under a fresh name next to
the target (unique per process and call, so two writers of the same output, e.g. a job
orphaned by a killed Snakemake and its rerun, never write into one file) and renamed into
place only when complete; on any error the temporary file is removed.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def temporary_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """A fresh name beside ``path`` to write to; renamed onto ``path`` when the block ends without error.

    ``suffix`` (default: ``path``'s own) ends the temporary name, for writers that pick the
    format from it (matplotlib, numpy).  The rename is atomic (same folder, same file system).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    end = target.suffix if suffix is None else suffix
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{end}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with temporary_path(path) as tmp:
        tmp.write_text(text)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        if not math.isfinite(v):
            raise ValueError(f"refusing to write non-finite number {v} to JSON")
        return v
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    return obj


def write_json(path: str | Path, data: Any) -> None:
    """Atomic JSON with plain floats; NaN/inf raise (naming ``path``) instead of hiding in the file."""
    try:
        text = json.dumps(_plain(data), indent=2, allow_nan=False) + "\n"
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    atomic_write_text(path, text)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Atomic ``numpy.savez``."""
    with temporary_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> Path:
    """Atomic ``fig.savefig(path)`` (the format from ``path``'s suffix); returns ``path``."""
    path = Path(path)
    with temporary_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or None, **savefig_kwargs)
    return path
