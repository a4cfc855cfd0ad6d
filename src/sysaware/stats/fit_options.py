"""Template post-processing and pruning options of the fit, as a TRExFitter/cabinetry user sets them.

* :func:`apply_template_options` writes cabinetry's own per-systematic switches into a
  cabinetry config: ``Symmetrize`` on the down template (the down variation becomes the
  mirror of the up one, cabinetry's "method 1") and ``Smoothing`` with cabinetry's only
  algorithm, ``353QH, twice`` (applied by ``cabinetry.templates.postprocess`` to the
  ratio variation/nominal, keeping the variation's total yield).
* :func:`prune_workspace` drops, per channel and sample, the modifiers whose largest
  relative effect is below a threshold (norm and shape parts separately, as TRExFitter
  prunes) and returns a report of every modifier's largest effect, kept or not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from .spec import ModelSpecError

SMOOTHING_ALGORITHM = "353QH, twice"

#: modifier types that pruning looks at (the constrained systematics); normfactor,
#: staterror, shapesys and lumi are never pruned
PRUNABLE = ("normsys", "histosys")


def apply_template_options(
    config: dict[str, Any],
    smoothing: Iterable[str] = (),
    symmetrize: Iterable[str] = (),
) -> dict[str, Any]:
    """A copy of the cabinetry ``config`` with smoothing/symmetrisation set for the named systematics.

    Only template systematics (``NormPlusShape``) can be smoothed or symmetrised; naming a
    ``Normalization`` systematic or one the config lacks raises :class:`ModelSpecError`
    naming it.  Symmetrised systematics need no down template: the ``Down`` entry keeps only
    ``Symmetrize: true``.
    """
    out = copy.deepcopy(config)
    by_name = {s["Name"]: s for s in out.get("Systematics", [])}
    for option, names in (("smoothing", smoothing), ("symmetrize", symmetrize)):
        for name in names:
            syst = by_name.get(name)
            if syst is None:
                raise ModelSpecError(f"fit.{option}: no systematic {name!r} (known: {sorted(by_name)})")
            if syst["Type"] != "NormPlusShape":
                raise ModelSpecError(
                    f"fit.{option}: systematic {name!r} is a {syst['Type']}; only template "
                    "(NormPlusShape) systematics can be smoothed or symmetrised"
                )
            if option == "smoothing":
                syst["Smoothing"] = {"Algorithm": SMOOTHING_ALGORITHM}
            else:
                syst["Down"] = {"Symmetrize": True}
    return out


def _relative_effect(modifier: dict[str, Any], nominal: np.ndarray) -> float:
    """Largest |variation / nominal - 1| of a normsys or histosys modifier."""
    data = modifier["data"]
    if modifier["type"] == "normsys":
        return max(abs(float(data["hi"]) - 1.0), abs(float(data["lo"]) - 1.0))
    filled = nominal > 0
    if not filled.any():
        return 0.0
    hi = np.asarray(data["hi_data"], dtype=float)[filled]
    lo = np.asarray(data["lo_data"], dtype=float)[filled]
    nom = nominal[filled]
    return float(max(np.max(np.abs(hi / nom - 1.0)), np.max(np.abs(lo / nom - 1.0))))


def prune_workspace(workspace: dict[str, Any], threshold: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drop normsys/histosys modifiers whose largest relative effect is below ``threshold``.

    The effect is taken per channel and sample: ``max(|hi - 1|, |lo - 1|)`` for a normsys,
    the largest ``|variation / nominal - 1|`` over the filled bins for a histosys.  A
    parameter no modifier uses any more is also dropped from the measurement.

    Returns:
        the pruned workspace (a copy) and the report ``{"threshold", "modifiers": [{"channel",
        "sample", "modifier", "type", "max_relative_effect", "pruned"}], "pruned_parameters"}``
        listing every prunable modifier, largest effect first.
    """
    if not threshold >= 0.0:
        raise ModelSpecError(f"fit.prune_threshold must be >= 0, got {threshold}")
    ws = copy.deepcopy(workspace)
    rows: list[dict[str, Any]] = []
    for channel in ws["channels"]:
        for sample in channel["samples"]:
            nominal = np.asarray(sample["data"], dtype=float)
            kept = []
            for mod in sample["modifiers"]:
                if mod["type"] not in PRUNABLE:
                    kept.append(mod)
                    continue
                effect = _relative_effect(mod, nominal)
                pruned = effect < threshold
                rows.append({"channel": channel["name"], "sample": sample["name"], "modifier": mod["name"],
                             "type": mod["type"], "max_relative_effect": effect, "pruned": pruned})
                if not pruned:
                    kept.append(mod)
            sample["modifiers"] = kept
    used = {m["name"] for ch in ws["channels"] for s in ch["samples"] for m in s["modifiers"]}
    before = {r["modifier"] for r in rows}
    gone = sorted(before - used)
    for measurement in ws["measurements"]:
        params = measurement["config"].get("parameters", [])
        measurement["config"]["parameters"] = [p for p in params if p["name"] not in gone]
    rows.sort(key=lambda r: (-r["max_relative_effect"], r["channel"], r["sample"], r["modifier"], r["type"]))
    return ws, {"threshold": float(threshold), "modifiers": rows, "pruned_parameters": gone}
