"""Fit inputs of the tau+jets analysis: hist templates of a trained summary, observed counts, model.

Templates are made from the events no training saw (the ``test`` split), scaled to each sample's
whole expected yield: nominal, the shifted samples of JES/JER/TES (their own reselected events)
and the b-tag weight variations, for every simulated sample.  Bins are the summary's hard bins
(argmax for INFERNO, equal-width sigmoid bins for BCE); bins expecting fewer than
:data:`~sysaware.binning.MIN_BIN_YIELD` events are merged.  The observed counts bin the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hist
import numpy as np
import torch
from torch import nn

from ..binning import MIN_BIN_YIELD, hard_bins, merge_bins, merge_small_bins
from ..stats import ModelSpec, Templates
from .dataset import FitSample
from .model import cms_spec

TEST = 2


def _histogram(net: nn.Module, x: np.ndarray, w: np.ndarray, n_bins: int) -> hist.Hist:
    h = hist.Hist(hist.axis.Integer(0, n_bins, name="bin", label="summary bin"), storage=hist.storage.Weight())
    h.fill(bin=hard_bins(net, torch.from_numpy(x), n_bins), weight=w)
    return h


def sample_templates(net: nn.Module, s: FitSample, n_bins: int, systematics: list[str]) -> dict[str, Any]:
    """hist histograms of one sample's test events: ``nominal`` and ``<syst>_up``/``_down``."""
    scale = s.split_scale(TEST)
    rows = s.nominal.split == TEST
    out = {"nominal": _histogram(net, s.nominal.x[rows], s.nominal.weight[rows] * scale, n_bins)}
    for syst in systematics:
        for side in ("up", "down"):
            key = f"{syst}_{side}"
            if key in s.nominal.weights:
                out[key] = _histogram(net, s.nominal.x[rows], s.nominal.weights[key][rows] * scale, n_bins)
            elif key in s.shifted:
                v = s.shifted[key]
                m = v.split == TEST
                out[key] = _histogram(net, v.x[m], v.weight[m] * scale, n_bins)
    return out


def fit_inputs(
    cfg: Mapping[str, Any], net: nn.Module, samples: Mapping[str, FitSample], observed_x: np.ndarray
) -> tuple[ModelSpec, Templates[np.ndarray], np.ndarray, dict[str, Any]]:
    """(spec, templates, observed counts, info) of one trained summary."""
    spec = cms_spec(cfg)
    n_bins = int(net[-1].out_features) if net[-1].out_features > 1 else int(cfg["training"]["n_bins"])
    systs = [m.name for m in spec.template_systematics]
    hists = {name: sample_templates(net, samples[name], n_bins, systs) for name in spec.sample_names}
    total = sum(h["nominal"].values() for h in hists.values())
    groups = merge_small_bins(total)
    observed = np.bincount(hard_bins(net, torch.from_numpy(observed_x), n_bins), minlength=n_bins).astype(float)
    up: dict[str, dict[str, np.ndarray]] = {}
    down: dict[str, dict[str, np.ndarray]] = {}
    for mod in spec.template_systematics:
        for sample in mod.samples:
            up.setdefault(mod.name, {})[sample] = merge_bins(hists[sample][f"{mod.name}_up"].values(), groups)
            down.setdefault(mod.name, {})[sample] = merge_bins(hists[sample][f"{mod.name}_down"].values(), groups)
    tpl = Templates(
        nominal={n: merge_bins(h["nominal"].values(), groups) for n, h in hists.items()},
        sumw2={n: merge_bins(h["nominal"].variances(), groups) for n, h in hists.items()},
        up=up,
        down=down,
    )
    info = {
        "n_bins": n_bins,
        "fit_bins": groups,
        "min_bin_yield": MIN_BIN_YIELD,
        "expected": {n: float(h["nominal"].values().sum()) for n, h in hists.items()},
        "observed": float(observed.sum()),
    }
    return spec, tpl, merge_bins(observed, groups), info
