"""Helpers shared by test modules (import from here, not from another test module or conftest)."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from sysaware.higgsml.io import ATLAS_FEATURES

#: loose enough to select some 15 % of the generated ttbar events (as in test_cms_pipeline)
LOOSE = {"triggers": [], "n_jets_min": 3, "n_lead_jets_min": 2, "lead_jet_pt_min": 30.0, "tau_pt_min": 25.0,
         "n_btag_min": 0, "met_min": 10.0}
#: the jet columns of the ATLAS CSV that are undefined (-999) in 0-jet events
JET_COLUMNS = [c for c in ATLAS_FEATURES if "jet" in c and c not in ("PRI_jet_num", "PRI_jet_all_pt")]


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


def with_field(coll: ak.Array, name: str, values: ak.Array | None) -> ak.Array:
    """The collection with field ``name`` replaced by ``values`` (None: removed)."""
    fields = {f: coll[f] for f in coll.fields if f != name}
    if values is not None:
        fields[name] = values
    return ak.zip(fields)


def set_first(jagged: ak.Array, events: np.ndarray, value: float) -> ak.Array:
    """``jagged`` with the first object of each of ``events`` set to ``value``."""
    counts = ak.to_numpy(ak.num(jagged, axis=1))
    flat = ak.to_numpy(ak.flatten(jagged)).copy()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat[starts[events]] = value
    return ak.unflatten(flat, counts)


def atlas_csv(path: Path, n: int = 40, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Path:
    """A synthetic ATLAS 2014-format CSV: 0-jet events have -999 jet columns, labels alternate s/b
    (even rows signal); ``edit`` changes the frame before it is written."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"EventId": np.arange(100_000, 100_000 + n)})
    for name in ATLAS_FEATURES:
        df[name] = rng.uniform(1.0, 100.0, n).round(3)
    df["PRI_jet_num"] = np.arange(n) % 3
    df.loc[df["PRI_jet_num"] == 0, JET_COLUMNS] = -999.0
    df["Weight"] = rng.uniform(0.01, 2.0, n).round(5)
    df["Label"] = np.where(np.arange(n) % 2 == 0, "s", "b")
    if edit is not None:
        df = edit(df)
    df.to_csv(path, index=False)
    return path


def with_defaults(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` validated against the config schema, its defaults filled in (a copy)."""
    from snakemake.utils import validate

    from sysaware.config import SCHEMA

    out = copy.deepcopy(cfg)
    validate(out, schema=str(SCHEMA), set_default=True)
    return out
