"""Write and read the histograms of a :class:`ModelSpec` as a ROOT file (cabinetry's input).

The layout is the one :func:`sysaware.stats.pyhf_export.to_cabinetry_config` expects
(``InputPath = <file>:{RegionPath}/{SamplePath}{VariationPath}``):

* ``<channel>/<sample>``: nominal template; its variances are ``sumw2[sample]`` where
  given (cabinetry's staterror reads them), else the values (Poisson);
* ``<channel>/<sample>_<modifier>Up`` / ``Down``: template variations of every
  ``histosys``/``normplusshape`` modifier for each sample it acts on;
* ``<channel>/<data_sample>``: the observed counts (variances = counts).

Every histogram is a ``hist.Hist`` with ``Weight`` storage, written by uproot as a TH1D.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hist
import numpy as np
import uproot

from ..io import temporary_path
from .spec import ModelSpec, ModelSpecError, Templates


def _np(x: Any) -> np.ndarray:
    """A float64 numpy copy of an array or (detached) torch tensor."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)


def histogram_paths(spec: ModelSpec, data_sample: str = "data") -> dict[str, str]:
    """Path in the file of every histogram of ``spec``, keyed by a readable label.

    Labels are ``nominal:<sample>``, ``up:<modifier>:<sample>``, ``down:<modifier>:<sample>``
    and ``data``.  Raises :class:`ModelSpecError` if two histograms would share a path.
    """
    ch = spec.channel
    paths = {f"nominal:{s}": f"{ch}/{s}" for s in spec.sample_names}
    for mod in spec.template_systematics:
        for s in mod.samples:
            paths[f"up:{mod.name}:{s}"] = f"{ch}/{s}_{mod.name}Up"
            paths[f"down:{mod.name}:{s}"] = f"{ch}/{s}_{mod.name}Down"
    paths["data"] = f"{ch}/{data_sample}"
    seen: dict[str, str] = {}
    for label, path in paths.items():
        if path in seen:
            raise ModelSpecError(
                f"templates file: {label!r} and {seen[path]!r} would both be written to {path!r}; "
                "rename a sample or modifier"
            )
        seen[path] = label
    return paths


def weighted_hist(edges: np.ndarray, values: np.ndarray, variances: np.ndarray) -> hist.Hist:
    """A 1D ``hist.Hist`` with ``Weight`` storage holding ``values`` and ``variances`` (uproot writes it as a TH1D)."""
    h = hist.Hist(hist.axis.Variable(edges, name="x"), storage=hist.storage.Weight())
    view = h.view()
    view["value"] = values
    view["variance"] = variances
    return h


def write_templates_root(
    path: str | os.PathLike[str],
    spec: ModelSpec,
    tpl: Templates,
    observed: Sequence[float] | np.ndarray,
    edges: Sequence[float] | np.ndarray | None = None,
    data_sample: str = "data",
) -> Path:
    """Write nominal, variation and data histograms of ``spec`` to the ROOT file ``path``.

    ``edges`` default to ``0, 1, ..., nbins``.  The file is written under a temporary
    name in the same directory and renamed into place at the end, so an error leaves
    no partial file behind (and an existing ``path`` untouched).  Returns ``path``.
    """
    nbins = tpl.check(spec)
    obs = _np(observed)
    if obs.shape != (nbins,):
        raise ModelSpecError(f"templates file: observed has shape {obs.shape}, expected ({nbins},)")
    edges_arr = np.arange(nbins + 1, dtype=float) if edges is None else _np(edges)
    if edges_arr.shape != (nbins + 1,) or not np.all(np.diff(edges_arr) > 0):
        raise ModelSpecError(
            f"templates file: edges must be {nbins + 1} increasing values, got {edges_arr.tolist()}"
        )
    paths = histogram_paths(spec, data_sample)

    hists: dict[str, hist.Hist] = {}
    for s in spec.sample_names:
        nom = _np(tpl.nominal[s])
        var = _np(tpl.sumw2[s]) if s in tpl.sumw2 else nom
        hists[paths[f"nominal:{s}"]] = weighted_hist(edges_arr, nom, var)
    for mod in spec.template_systematics:
        for s in mod.samples:
            for side, store in (("up", tpl.up), ("down", tpl.down)):
                vals = _np(store[mod.name][s])
                hists[paths[f"{side}:{mod.name}:{s}"]] = weighted_hist(edges_arr, vals, vals)
    hists[paths["data"]] = weighted_hist(edges_arr, obs, obs)

    target = Path(path)
    with temporary_path(target) as tmp_name, uproot.recreate(tmp_name) as fout:
        for key, h in hists.items():
            fout[key] = h
    return target


def read_templates_root(
    path: str | os.PathLike[str], spec: ModelSpec, data_sample: str = "data"
) -> tuple[Templates, np.ndarray]:
    """Read back what :func:`write_templates_root` wrote, as ``(templates, observed)``.

    ``sumw2`` is filled for every sample from the stored variances.  A missing
    histogram raises :class:`ModelSpecError` naming the file and the histogram.
    """
    paths = histogram_paths(spec, data_sample)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with uproot.open(path) as fin:
        for label, hpath in paths.items():
            try:
                obj = fin[hpath]
            except uproot.KeyInFileError as err:
                raise ModelSpecError(
                    f"templates file {os.fspath(path)!r}: histogram {hpath!r} ({label}) not found"
                ) from err
            values = np.asarray(obj.values(), dtype=float)
            variances = obj.variances()
            arrays[label] = (
                values,
                values.copy() if variances is None else np.asarray(variances, dtype=float),
            )

    tpl = Templates(
        nominal={s: arrays[f"nominal:{s}"][0] for s in spec.sample_names},
        sumw2={s: arrays[f"nominal:{s}"][1] for s in spec.sample_names},
        up={m.name: {s: arrays[f"up:{m.name}:{s}"][0] for s in m.samples}
            for m in spec.template_systematics},
        down={m.name: {s: arrays[f"down:{m.name}:{s}"][0] for s in m.samples}
              for m in spec.template_systematics},
    )
    observed = arrays["data"][0]
    try:
        nbins = tpl.check(spec)
    except ModelSpecError as err:
        raise ModelSpecError(f"templates file {os.fspath(path)!r}: {err}") from err
    if observed.shape != (nbins,):
        raise ModelSpecError(
            f"templates file {os.fspath(path)!r}: {paths['data']!r} has {observed.size} bins, "
            f"templates have {nbins}"
        )
    return tpl, observed
