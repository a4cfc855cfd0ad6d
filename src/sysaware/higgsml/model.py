"""The statistical model of the HiggsML tau-energy-scale study, shared by INFERNO and the fit.

One channel; mu scales the signal samples; ``tes`` moves every sample with the tau energy
scale (histosys, code0: piecewise linear in the shift z, alpha = z / sigma, N(0, 1)); the
normalisation systematics of ``higgsml.norm_systematics`` are normsys with pyhf's code1
(exponential) interpolation.  INFERNO's loss uses this model with the +-sigma templates;
:mod:`sysaware.higgsml.profile` evaluates the same likelihood with templates rebuilt on a grid
of z (equal to it on the 3-point grid {-sigma, 0, +sigma}), the grid of :func:`z_grid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..stats import ModelSpec

POI = "mu"
TES = "tes"
CHANNEL = "SR"


def signal_samples(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the samples that mu scales."""
    return [s["name"] for s in cfg["higgsml"]["samples"] if s["role"] == "signal"]


def norm_factors(cfg: Mapping[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """Normalisation systematics: name -> {sample: (lo, hi)} factors at alpha = -1 / +1."""
    names = {s["name"] for s in cfg["higgsml"]["samples"]}
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name, entry in cfg["higgsml"]["norm_systematics"].items():
        unknown = sorted(set(entry["samples"]) - names)
        if unknown:
            raise ValueError(f"higgsml.norm_systematics.{name}: unknown sample(s) {unknown}")
        size = float(entry["size"])
        out[name] = {s: (1.0 - size, 1.0 + size) for s in entry["samples"]}
    return out


def higgsml_spec(cfg: Mapping[str, Any]) -> ModelSpec:
    """The HistFactory model (see the module docstring)."""
    names = [s["name"] for s in cfg["higgsml"]["samples"]]
    mods: list[dict[str, Any]] = [
        {"name": POI, "type": "normfactor", "samples": signal_samples(cfg), "bounds": [-5.0, 10.0]},
        {"name": TES, "type": "histosys", "samples": names},
    ]
    for name, lohi in norm_factors(cfg).items():
        mods.append({"name": name, "type": "normsys",
                     "samples": {s: {"lo": lo, "hi": hi} for s, (lo, hi) in lohi.items()}})
    return ModelSpec.from_config({
        "channel": CHANNEL, "poi": POI,
        "samples": [{"name": n} for n in names],
        "modifiers": mods,
        "interpolation": {"normsys": "code1", "histosys": "code0"},
    })


def z_grid(tes: Mapping[str, Any]) -> np.ndarray:
    """The grid of hypothesised z: multiples of ``grid.step`` up to ``grid.max``; must hold 0, +-sigma and the true values."""
    step, top = float(tes["grid"]["step"]), float(tes["grid"]["max"])
    n = int(round(top / step))
    grid = step * np.arange(-n, n + 1)
    for what, z in [("sigma", tes["sigma"]), ("-sigma", -tes["sigma"])] + [("true value", z) for z in tes["true_values"]]:
        if abs(z) > top + 1e-12:
            raise ValueError(f"higgsml.tes: {what} {z} lies outside the grid [-{top}, {top}]")
    if abs(round(tes["sigma"] / step) * step - tes["sigma"]) > 1e-9:
        raise ValueError(f"higgsml.tes.sigma {tes['sigma']} is not a multiple of grid.step {step}")
    return grid
