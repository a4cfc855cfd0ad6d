"""Profiled (mu, z) likelihood of each trained summary on pseudo-data at several true TES shifts.

For one trained model:

1. **Binning.** A single-output network's sigmoid score is cut into ``n_bins`` bins of equal
   expected signal (quantiles of the template split's signal at z = 0); INFERNO's softmax
   bins are its argmax.
2. **Templates on a grid of z.** The template split is shifted to every grid point z (the TES
   recipe, tau pT cut after the shift) and histogrammed with ``hist``; for the
   uncertainty-aware f(x, z) the network is evaluated at that same z, so its templates are
   rebuilt for every hypothesised z.  :mod:`sysaware.higgsml.profile` interpolates linearly
   between grid points.
3. **Pseudo-data at a true (mu, z).** The template events shifted to the true z, each with
   weight w (x mu for signal): the Asimov data; or with an integer multiplicity drawn from
   Poisson(w (x mu)), which makes every bin count Poisson-distributed with the right mean for
   any binning: a pseudo-experiment.  The draws depend only on the true z and the toy index,
   so every method sees the same pseudo-experiments.  f(x, z)'s data histogram depends on the
   hypothesised z too (the data are re-binned with the network at that z), so it is made on the
   same grid.
4. **Profile.** q(mu) = -2 delta ln L with z and the normalisation nuisances profiled; the 68%
   interval where q = 1; stat-only with the nuisances fixed at their best-fit values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import hist
import numpy as np
import torch
from torch import nn

from ..fit.core import BOUND_RTOL
from ..seeding import rng_for
from .dataset import TEMPLATES, TESData
from .model import POI, norm_factors, signal_samples, z_grid
from .profile import (
    GridTemplates,
    ProfileModel,
    fit,
    free_hessian,
    hessian_covariance,
    interval,
    is_positive_definite,
    profile_scan,
)

log = logging.getLogger(__name__)

SCAN_POINTS = 41
SCAN_HALF_RANGE = 2.5  # in units of the Asimov half-width


@dataclass
class Summary:
    """A trained network as a binned summary: bins of its score (or argmax) at a given z."""

    net: nn.Module
    z_input: bool
    n_bins: int
    edges: np.ndarray | None = None

    def scores(self, x: np.ndarray, z: float) -> np.ndarray:
        """Sigmoid score (one output) or the softmax argmax (several outputs)."""
        xt = torch.from_numpy(x)
        if self.z_input:
            xt = torch.cat([xt, torch.full((len(xt), 1), float(z))], dim=1)
        with torch.no_grad():
            out = self.net(xt)
        if out.shape[1] == 1:
            return torch.sigmoid(out[:, 0]).double().numpy()
        return out.argmax(1).numpy()

    def bins(self, x: np.ndarray, z: float) -> np.ndarray:
        """Bin index (0 .. n_bins-1) of every event."""
        s = self.scores(x, z)
        if self.edges is None:
            return s.astype(np.int64)
        return np.clip(np.searchsorted(self.edges, s, side="right") - 1, 0, self.n_bins - 1)


def make_summary(net: nn.Module, meta: Mapping[str, Any], data: TESData, n_bins: int) -> Summary:
    """:class:`Summary` of a trained model; score bins of equal expected signal at z = 0."""
    net.eval()
    if meta["n_outputs"] > 1:
        return Summary(net, bool(meta.get("z_input", False)), int(meta["n_outputs"]))
    summary = Summary(net, bool(meta.get("z_input", False)), n_bins)
    rows = data.rows(TEMPLATES)
    x, kept = data.inputs_at(rows, 0.0)
    sig = data.is_signal(rows) & kept
    s = summary.scores(x[sig], 0.0)
    order = np.argsort(s)
    cum = np.cumsum(data.weight[rows][sig][order])
    inner = np.interp(np.arange(1, n_bins) / n_bins * cum[-1], cum, s[order])
    summary.edges = np.concatenate([[0.0], np.maximum.accumulate(inner), [1.0]])
    return summary


def _histogram(bins: np.ndarray, weight: np.ndarray, n_bins: int) -> np.ndarray:
    h = hist.Hist(hist.axis.Integer(0, n_bins, name="bin"), storage=hist.storage.Weight())
    h.fill(bin=bins, weight=weight)
    return h.values()


def grid_templates(summary: Summary, data: TESData, grid: np.ndarray) -> GridTemplates:
    """Expected events of every sample in every bin at every grid z (template split)."""
    rows = data.rows(TEMPLATES)
    sample = data.sample[rows]
    out = {name: np.zeros((len(grid), summary.n_bins)) for name in data.sample_names}
    for i, z in enumerate(grid):
        x, kept = data.inputs_at(rows, float(z))
        b = summary.bins(x, float(z))
        for k, name in enumerate(data.sample_names):
            m = (sample == k) & kept
            out[name][i] = _histogram(b[m], data.weight[rows][m], summary.n_bins)
    return GridTemplates(z=np.asarray(grid, dtype=float), yields=out)


def data_weights(data: TESData, mu: float, toy: int | None, true_index: int, seed: int) -> np.ndarray:
    """Per-event data weights of the template split: Asimov (``toy`` None) or Poisson multiplicities."""
    rows = data.rows(TEMPLATES)
    w = data.weight[rows] * np.where(data.is_signal(rows), mu, 1.0)
    if toy is None:
        return w
    return rng_for(seed, "higgsml_toy", true_index, toy).poisson(w).astype(np.float64)


def data_bins(summary: Summary, data: TESData, z_true: float, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bins of the template events shifted to ``z_true`` and their kept mask.

    Bins are ``(1, n_events)``, or ``(n_z, n_events)`` for a summary that takes z as input (the
    data re-binned at every hypothesised z).  Computed once per true z; the pseudo-experiments
    differ only by their weights (:func:`binned_data`).
    """
    x, kept = data.inputs_at(data.rows(TEMPLATES), z_true)
    if not summary.z_input:
        return summary.bins(x, 0.0)[None, :], kept
    return np.stack([summary.bins(x, float(z)) for z in grid]), kept


def binned_data(bins: np.ndarray, kept: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """Binned pseudo-data of :func:`data_bins`: (n_bins,), or (n_z, n_bins) for a z-dependent summary."""
    w = weights * kept
    hists = np.stack([_histogram(b, w, n_bins) for b in bins])
    return hists[0] if len(hists) == 1 else hists


def _half(lo: float, hi: float) -> float:
    return 0.5 * (hi - lo)


def fit_record(model: ProfileModel, data: np.ndarray, stat_fixed: Sequence[str]) -> dict[str, Any]:
    """Results-contract fields of one pseudo-experiment (``fit_results.json``, docs/results.md).

    Problems are reported, not hidden: a minimisation that did not converge, a Hessian that is
    not positive definite (the uncertainties then come from its pseudo-inverse), mu at a bound
    and an interval that reaches a bound go to ``warnings`` and to the log.
    """
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        log.warning(message)

    res = fit(model, data)
    best, lo, hi = interval(model, data)
    fixed = {n: float(v) for n, v in zip(res.names, res.pars) if n in stat_fixed}
    _, slo, shi = interval(model, data, fixed=fixed)
    hessian = free_hessian(model, data, res)
    posdef = is_positive_definite(hessian[0])
    cov = hessian_covariance(model, data, res, hessian)
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = cov / np.outer(np.where(err > 0, err, 1.0), np.where(err > 0, err, 1.0))
    bounds = model.mu_bounds
    tol = BOUND_RTOL * max(1.0, bounds[1] - bounds[0])
    at_bound = min(abs(best - bounds[0]), abs(best - bounds[1])) <= tol
    if not res.converged:
        warn("fit did not converge (L-BFGS-B)")
    if not posdef:
        warn("fit: Hessian not positive definite at the best fit; uncertainties from its pseudo-inverse")
    if at_bound:
        warn(f"fit: POI at bound: {POI} = {best:.6g}, bounds [{bounds[0]:g}, {bounds[1]:g}]")
    for side, edge in (("lower", lo), ("upper", hi)):
        if min(abs(edge - bounds[0]), abs(edge - bounds[1])) <= tol:
            warn(f"fit: the {side} end of the 68% interval of {POI} is the bound {edge:g}")
    return {
        "poi": POI, "bestfit": best, "minos": [lo - best, hi - best],
        "stat_only_minos": [slo - best, shi - best], "labels": list(res.names),
        "bestfit_all": [float(v) for v in res.pars], "uncertainty_all": [float(v) for v in err],
        "correlation": corr.tolist(), "converged": bool(res.converged), "hesse_positive_definite": posdef,
        "poi_at_bound": bool(at_bound), "warnings": warnings,
    }


def evaluate(cfg: Mapping[str, Any], data: TESData, net: nn.Module, meta: Mapping[str, Any],
             true_values: Sequence[float]) -> dict[str, Any]:
    """Widths, scans and the toy-0 fit of one model at each true z (see the module docstring)."""
    h, tes = cfg["higgsml"], cfg["higgsml"]["tes"]
    grid = z_grid(tes)
    summary = make_summary(net, meta, data, int(cfg["training"]["n_bins"]))
    model = ProfileModel(
        templates=grid_templates(summary, data, grid), poi_samples=tuple(signal_samples(cfg)),
        norms=norm_factors(cfg), z_sigma=float(tes["sigma"]), z_bounds=(float(grid[0]), float(grid[-1])),
        mu_bounds=tuple(h["mu_bounds"]),
    )
    mu_true, seed = float(h["truth_mu"]), int(cfg["seed"])
    nuisances = ["z", *model.norms]
    out = []
    for z_true in true_values:
        k = [round(v, 12) for v in tes["true_values"]].index(round(z_true, 12))
        bins, kept = data_bins(summary, data, z_true, grid)

        def pseudo_data(toy: int | None, bins=bins, kept=kept, k=k) -> np.ndarray:
            return binned_data(bins, kept, data_weights(data, mu_true, toy, k, seed), summary.n_bins)

        asimov = pseudo_data(None)
        best, lo, hi = interval(model, asimov)
        fixed = {"z": z_true, **{n: 0.0 for n in model.norms}}
        _, slo, shi = interval(model, asimov, fixed=fixed)
        half = _half(lo, hi)
        mus = best + np.linspace(-SCAN_HALF_RANGE, SCAN_HALF_RANGE, SCAN_POINTS) * half
        q = profile_scan(model, asimov, mus)
        toys, record = [], None
        for t in range(int(h["n_toys"])):
            d = pseudo_data(t)
            if t == 0:
                record = fit_record(model, d, nuisances)
                toys.append(_half(record["minos"][0], record["minos"][1]))
            else:
                _, tlo, thi = interval(model, d)
                toys.append(_half(tlo, thi))
        if record is not None:
            record["asimov_minos"] = [lo - best, hi - best]
        out.append({
            "true_z": float(z_true), "true_mu": mu_true,
            "asimov": {"bestfit": best, "interval": [lo, hi], "half_width": half,
                       "stat_only_half_width": _half(slo, shi)},
            "scan": {"mu": mus.tolist(), "q": np.asarray(q).tolist()},
            "toys": {"half_widths": toys, "median_half_width": float(np.median(toys)) if toys else None},
            "fit": record,
        })
    return {"model": meta["model"], "method": meta["method"], "n_bins": summary.n_bins,
            "edges": None if summary.edges is None else summary.edges.tolist(), "z_grid": grid.tolist(),
            "results": out}
