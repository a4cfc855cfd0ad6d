"""Helpers shared by test modules (import from here, not from another test module or conftest)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any


def assert_failed_cleanly(run: subprocess.CompletedProcess, folder: Path | None, message: str,
                          keep: tuple[str, ...] = ("config.json",)) -> str:
    """A stage script that failed as :mod:`sysaware.job` promises, and the ERROR line.

    Exit status 1; the log (stderr) holds the traceback and ends with one ERROR line that
    contains ``message``; the same line, once, on stdout (what Snakemake shows in the terminal);
    under ``folder`` no file but ``keep`` (no output, no temporary file).
    """
    assert run.returncode == 1, run.stderr[-3000:]
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if " ERROR " in line]
    assert len(errors) == 1 and message in errors[0], run.stderr[-3000:]
    assert lines[-1] == errors[0], run.stderr[-3000:]
    assert "Traceback (most recent call last)" in run.stderr
    shown = [line for line in run.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(shown) == 1 and message in shown[0] and "Traceback" not in run.stdout, run.stdout[-2000:]
    if folder is not None:
        left = sorted(p.name for p in Path(folder).rglob("*") if p.is_file())
        assert left == sorted(keep), left
    return errors[0]


def with_value(cfg: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``cfg`` with ``value`` at ``a.b.0.c`` (list indices as numbers); ``...`` deletes the key."""
    out = copy.deepcopy(cfg)
    node: Any = out
    keys = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out
