"""Fit results (the contract of ``fit_results.json``, docs/results.md) of a likelihood whose templates
and data are rebuilt on a grid of one nuisance (:class:`sysaware.stats.grid_model.GridModel`).

The interval of the POI is the profile-likelihood one (-2 delta ln L = 1, every other parameter
profiled, the grid nuisance included); stat-only holds every nuisance at its best-fit value;
the Asimov interval fits the nodes' expected histograms at the model's nominal point.  Problems are
reported, not hidden (``warnings`` and the log): a minimisation that did not converge, a Hessian
that is not positive definite (uncertainties then from its pseudo-inverse), the POI at a bound.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..stats.grid_model import GridModel
from .core import BOUND_RTOL

log = logging.getLogger("sysaware.fit")


def grid_fit_results(model: GridModel) -> dict[str, Any]:
    """MLE, profile-likelihood, stat-only and Asimov intervals of the POI, and the parameters'
    uncertainties and correlations from the Hessian at the best fit."""
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        log.warning(message)

    poi = model.labels[model.poi_index]
    log.info("grid fit: %d parameters, %s at nodes %s", len(model.labels), model.z_name, list(model.nodes))
    best = model.minimize()
    mu = float(best.pars[model.poi_index])
    log.info("best fit: %s = %.5f, %s = %.4f (NLL %.6f)", poi, mu, model.z_name, best.pars[model.z_index], best.nll)
    lo, hi = model.interval(best)
    log.info("profile-likelihood interval: [%.5f, %.5f]", lo, hi)
    nuisances = {n: float(v) for n, v in zip(model.labels, best.pars) if n != poi}
    slo, shi = model.interval(best, fixed=nuisances)
    log.info("stat-only interval: [%.5f, %.5f]", slo, shi)
    asimov = model.asimov_data()
    abest = model.minimize(data=asimov)
    alo, ahi = model.interval(abest, data=asimov)
    log.info("Asimov interval: [%.5f, %.5f] around %.5f", alo, ahi, abest.pars[model.poi_index])
    hess = model.hessian(best.pars)
    free = [k for k in range(len(model.labels)) if not (k < model.z_index and not bool(model.model.free_mask()[k]))]
    h = hess[np.ix_(free, free)]
    eig = np.linalg.eigvalsh(h)
    posdef = bool(eig[0] > 0)
    cov_free = np.linalg.inv(h) if posdef else np.linalg.pinv(h)
    cov = np.zeros_like(hess)
    cov[np.ix_(free, free)] = cov_free
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = cov / np.outer(np.where(err > 0, err, 1.0), np.where(err > 0, err, 1.0))
    bounds = model.bounds()[model.poi_index]
    at_bound = min(abs(mu - bounds[0]), abs(mu - bounds[1])) <= BOUND_RTOL * max(1.0, bounds[1] - bounds[0])
    if not (best.converged and abest.converged):
        warn("grid fit did not converge (L-BFGS-B)")
    if not posdef:
        warn("grid fit: Hessian not positive definite at the best fit; uncertainties from its pseudo-inverse")
    if at_bound:
        warn(f"grid fit: POI at bound: {poi} = {mu:.6g}, bounds [{bounds[0]:g}, {bounds[1]:g}]")
    return {
        "poi": poi, "bestfit": mu, "minos": [lo - mu, hi - mu], "stat_only_minos": [slo - mu, shi - mu],
        "asimov_minos": [alo - float(abest.pars[model.poi_index]), ahi - float(abest.pars[model.poi_index])],
        "labels": list(model.labels), "bestfit_all": [float(v) for v in best.pars],
        "uncertainty_all": [float(v) for v in err], "correlation": corr.tolist(), "converged": bool(best.converged),
        "hesse_positive_definite": posdef, "poi_at_bound": bool(at_bound), "warnings": warnings,
        "grid": {"nuisance": model.z_name, "nodes": [float(z) for z in model.nodes], "twice_nll": 2 * best.nll},
    }
