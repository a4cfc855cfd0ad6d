"""Fit inputs of the benchmark: hard-binned templates, pseudo-data, the HistFactory model.

The final fit of every trained summary is benchmark 4 as HistFactory writes it
(:func:`~sysaware.benchmark.model.fit_spec`): the POI
``mu`` scales the signal (s = 50 mu); ``r`` and ``lam`` are NormPlusShape systematics of
the background with templates at r = +-0.4 and lam = 3 +-1 (their Gaussian widths); ``b`` is a
10% normalisation.  Templates are histograms (``hist``) of the summary's hard bins
(argmax of the softmax for INFERNO, equal-width bins of the sigmoid for BCE) on the
test events, scaled to the expected yields.  Bins expecting fewer than ``MIN_BIN_YIELD``
events (signal plus background) are merged with the next bin (the last such group with
the previous one): a softmax network may leave outputs unused, and a nearly empty bin lets
the fitted background go negative there.

The pseudo-data are one dataset of *events*, Poisson(50) signal plus Poisson(1000)
background at the nominal point, seeded from the config: every method bins the same
events, as real data would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hist
import numpy as np
import torch
from torch import nn

from ..binning import MIN_BIN_YIELD, hard_bins, merge_bins, merge_small_bins
from ..seeding import rng_for
from ..stats import ModelSpec, Templates
from .losses import shift_nominal
from .mixture import sample_background, sample_signal
from .model import NOMINAL, VARIATION, fit_spec


def _histogram(net: nn.Module, x: torch.Tensor, n_bins: int, total: float) -> hist.Hist:
    h = hist.Hist(hist.axis.Integer(0, n_bins, name="bin", label="summary bin"), storage=hist.storage.Weight())
    h.fill(bin=hard_bins(net, x, n_bins), weight=np.full(x.shape[0], total / x.shape[0]))
    return h


def pseudo_events(seed: int, signal_mean: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """One pseudo-dataset: Poisson(s) signal and Poisson(b) background events at the nominal point."""
    rng = rng_for(seed, "pseudodata")
    ns, nb = rng.poisson(NOMINAL["s"]), rng.poisson(NOMINAL["b"])
    xs = sample_signal(int(ns), rng, signal_mean).astype(np.float32)
    xb = sample_background(int(nb), rng).astype(np.float32)
    return torch.from_numpy(xs), torch.from_numpy(xb)


def fit_inputs(
    cfg: Mapping[str, Any], net: nn.Module, data: Mapping[str, np.ndarray]
) -> tuple[ModelSpec, Templates[np.ndarray], np.ndarray, dict[str, Any]]:
    """(spec, templates, observed counts, info) of one trained summary on the test events."""
    n_bins = int(cfg["training"]["n_bins"])
    xs, xb = torch.from_numpy(data["xs_test"]), torch.from_numpy(data["xb_test"])
    s, b = NOMINAL["s"], NOMINAL["b"]
    nominal = {"signal": _histogram(net, xs, n_bins, s), "background": _histogram(net, xb, n_bins, b)}
    up, down = {}, {}
    for p in ("r", "lam"):
        up[p] = {"background": _histogram(net, shift_nominal(xb, p, VARIATION[p]), n_bins, b).values()}
        down[p] = {"background": _histogram(net, shift_nominal(xb, p, -VARIATION[p]), n_bins, b).values()}
    ps, pb = pseudo_events(int(cfg["seed"]), tuple(cfg["benchmark"]["signal_mean"]))
    observed = np.bincount(hard_bins(net, torch.cat([ps, pb]), n_bins), minlength=n_bins).astype(float)
    groups = merge_small_bins(nominal["signal"].values() + nominal["background"].values())
    tpl = Templates(
        nominal={k: merge_bins(h.values(), groups) for k, h in nominal.items()},
        sumw2={k: merge_bins(h.variances(), groups) for k, h in nominal.items()},
        up={p: {"background": merge_bins(v["background"], groups)} for p, v in up.items()},
        down={p: {"background": merge_bins(v["background"], groups)} for p, v in down.items()},
    )
    info = {
        "n_bins": n_bins,
        "fit_bins": groups,
        "min_bin_yield": MIN_BIN_YIELD,
        "pseudo_data_events": {"signal": int(ps.shape[0]), "background": int(pb.shape[0])},
    }
    return fit_spec(), tpl, merge_bins(observed, groups), info
