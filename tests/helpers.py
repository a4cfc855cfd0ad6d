"""Helpers shared by test modules (import from here, not from another test module or conftest)."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import Phase

from sysaware.higgsml.io import ATLAS_FEATURES

#: the repository root (where the Snakefile is)
REPO = Path(__file__).resolve().parents[1]
#: ../shared, or $SYSAWARE_SHARED: the published reference numbers (reference/) and input files (data/)
SHARED = Path(os.environ.get("SYSAWARE_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
#: the tiny configurations the tests run, each runnable as `snakemake --cores 1 --configfile .test/<name>.yaml`
TEST_CONFIGS = REPO / ".test"


def shared_data(name: str) -> Path:
    """A file of ../shared/data (or $SYSAWARE_SHARED/data); skip the test where it is absent (a user's clone)."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared data file {path} not found (set SYSAWARE_SHARED to the folder holding data/)")
    return path


def snakemake_env() -> dict[str, str]:
    """Environment for a Snakemake subprocess: the rules' `python` is this interpreter, venv activated or not."""
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def tiny_config(name: str, results: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The tiny configuration ``.test/<name>.yaml``, with ``results_dir`` set to ``results`` if given."""
    cfg = yaml.safe_load((TEST_CONFIGS / f"{name}.yaml").read_text())
    if results is not None:
        cfg["results_dir"] = str(results)
    return cfg


#: the selection of .test/cms_tiny.yaml: loose enough to select some 15 % of the generated ttbar events
LOOSE: dict[str, Any] = tiny_config("cms_tiny")["cms"]["selection"]
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


# --------------------------------------------------------------------------- property tests

#: hypothesis phases without shrinking: an exact-equality failure is reported as found, fast
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
TWO_PI = 2.0 * math.pi


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(phi, dtype=np.float64) + np.pi) % TWO_PI - np.pi


def assert_same_angle(a: np.ndarray, b: np.ndarray, atol: float, err_msg: str = "") -> None:
    """``a == b`` modulo 2 pi (so -pi and pi, or the file's 3.142 and -3.1412, agree)."""
    d = np.abs(wrap_phi(np.asarray(a) - np.asarray(b)))
    np.testing.assert_array_less(np.minimum(d, TWO_PI - d), atol, err_msg=err_msg)


def assert_exact(a: Mapping[str, Any], b: Mapping[str, Any], keys: Any = None, where: str = "") -> None:
    """Every array of ``keys`` (default: all of ``a``) bit-for-bit equal (NaN equal to NaN)."""
    for k in a if keys is None else keys:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, (where, k, x.dtype, y.dtype, x.shape, y.shape)
        nan_ok = x.dtype.kind == "f"
        assert np.array_equal(x, y, equal_nan=nan_ok), (where, k, x[x != y] if x.shape == y.shape else None)


# --------------------------------------------------------------------------- fit stage

OBSERVED = [97.0, 88.0, 83.0, 78.0]  # near, not at, the nominal sum [95, 85, 85, 80]


def small_workspace(data=OBSERVED, *, poi_bounds=None, extra_signal_normfactor=False) -> dict:
    """4 bins, signal (POI mu) + two backgrounds, three small nuisances on different samples.

    sig_xsec: 5% normsys on the signal; bkg_norm: 4% normsys on bkg; bkg2_shape: a 5%
    tilt (histosys) of bkg2.  Post-fit the nuisances are nearly uncorrelated with each
    other (|rho| < 0.03), so their impacts add in quadrature.
    """
    sig = [5.0, 15.0, 25.0, 10.0]
    bkg = [80.0, 50.0, 40.0, 60.0]
    bkg2 = np.array([10.0, 20.0, 20.0, 10.0])
    tilt = 0.05 * np.array([1.0, 0.3, -0.3, -1.0])
    sig_mods = [{"name": "mu", "type": "normfactor", "data": None},
                {"name": "sig_xsec", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}}]
    if extra_signal_normfactor:  # mu * k: a flat direction, singular Hessian
        sig_mods.append({"name": "k", "type": "normfactor", "data": None})
    params = [{"name": "mu", "bounds": [list(poi_bounds)]}] if poi_bounds else []
    return {
        "channels": [{"name": "sr", "samples": [
            {"name": "signal", "data": sig, "modifiers": sig_mods},
            {"name": "bkg", "data": bkg, "modifiers": [
                {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.04, "lo": 0.96}}]},
            {"name": "bkg2", "data": bkg2.tolist(), "modifiers": [
                {"name": "bkg2_shape", "type": "histosys",
                 "data": {"hi_data": (bkg2 * (1 + tilt)).tolist(), "lo_data": (bkg2 * (1 - tilt)).tolist()}}]},
        ]}],
        "observations": [{"name": "sr", "data": list(data)}],
        "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": params}}],
        "version": "1.0.0",
    }
