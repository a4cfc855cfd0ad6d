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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 1 where den is 0 (a relative variation of an empty bin is no variation)."""
    return np.divide(num, den, out=np.ones_like(num, dtype=np.float64), where=den > 0)


def grid_inputs(
    cfg: Mapping[str, Any], net: nn.Module, meta: Mapping[str, Any], samples: Mapping[str, FitSample],
    observed_x: np.ndarray, nuisance: str, nodes: tuple[float, ...],
) -> tuple[ModelSpec, list[Templates[np.ndarray]], list[np.ndarray], dict[str, Any]]:
    """The fit inputs of a summary that takes the nuisance z as an input, at every node of z
    (:mod:`sysaware.stats.grid_model`): (model without the nuisance, templates and observed counts
    per node, info).

    At node z_k the summary is f(., z_k).  Each sample's nominal template is its events at that value
    of the nuisance (the nominal events at 0, its shifted events at -1 / +1 sigma) binned with
    f(., z_k); every other systematic keeps the relative effect it has on the nominal events binned
    with f(., z_k) (the events shifted in two systematics at once do not exist); the data are binned
    with f(., z_k).  Bins are merged as at the nominal node, the same at every node.
    """
    from ..train.networks import as_summary

    sliced = {**cfg, "cms": {**cfg["cms"], "shape_systematics": [s for s in cfg["cms"]["shape_systematics"] if s != nuisance]}}
    spec = cms_spec(sliced)
    n_bins = int(meta["n_outputs"]) if int(meta["n_outputs"]) > 1 else int(cfg["training"]["n_bins"])
    others = [m.name for m in spec.template_systematics]
    per_node = []
    for z in nodes:
        summary = as_summary(net, meta, float(z))
        hists = {name: sample_templates(summary, samples[name], n_bins, [*others, nuisance]) for name in spec.sample_names}
        observed = np.bincount(hard_bins(summary, torch.from_numpy(observed_x), n_bins), minlength=n_bins).astype(float)
        per_node.append((z, hists, observed))
    centre = min(range(len(nodes)), key=lambda k: abs(nodes[k]))
    groups = merge_small_bins(sum(h["nominal"].values() for h in per_node[centre][1].values()))
    templates, data = [], []
    for z, hists, observed in per_node:
        nominal, sumw2, up, down = {}, {}, {}, {}
        for name, h in hists.items():
            # a sample without shifted events of the nuisance (data-driven QCD) does not depend on it
            at = h["nominal"] if z == 0 else h.get(f"{nuisance}_{'up' if z > 0 else 'down'}", h["nominal"])
            nominal[name] = merge_bins(at.values(), groups)
            sumw2[name] = merge_bins(at.variances(), groups)
            base = merge_bins(h["nominal"].values(), groups)
            for mod in spec.template_systematics:
                if name in mod.samples:
                    for side, store in (("up", up), ("down", down)):
                        shifted = merge_bins(h[f"{mod.name}_{side}"].values(), groups)
                        store.setdefault(mod.name, {})[name] = nominal[name] * _ratio(shifted, base)
        templates.append(Templates(nominal=nominal, sumw2=sumw2, up=up, down=down))
        data.append(merge_bins(observed, groups))
    info = {"n_bins": n_bins, "fit_bins": groups, "nuisance": nuisance, "nodes": [float(z) for z in nodes]}
    return spec, templates, data, info
