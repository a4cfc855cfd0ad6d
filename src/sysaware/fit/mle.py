"""Maximum-likelihood fit with MINOS, the stat-only and Asimov fits, significance and goodness of fit."""

from __future__ import annotations

import math
from typing import Any

import cabinetry
import pyhf

from .core import (
    Strategy,
    model_and_data,
    _at_bound,
    _check_minos_bounds,
    _finite,
    _finite_list,
    _finite_matrix,
    _fit,
    _fit_options,
    _hesse_check,
    _parameter_table,
    _poi,
    _poi_minos,
    _warn,
)


def fit_results(
    workspace: dict[str, Any],
    *,
    strategy: Strategy = None,
    maxiter: int | None = None,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Maximum-likelihood fit with MINOS, stat-only and Asimov fits, significance and checks.

    Runs, all with ``cabinetry.fit.fit``:

    * the full fit to the observed data, MINOS on the POI, saturated-model goodness of fit;
    * the stat-only fit: every constrained (and every measurement-fixed) parameter fixed
      at its best-fit value from the full fit; free are only the POI and the other
      non-fixed unconstrained parameters (normfactors, shapefactors); MINOS on the POI;
    * the expected fit to cabinetry's pre-fit Asimov data (``asimov=True``), MINOS on the POI;

    and ``cabinetry.fit.significance`` (discovery q0, observed and expected).

    Returns the results contract (docs/results.md, ``fit_results.json``): ``poi``, ``bestfit``, ``minos``,
    ``stat_only_minos``, ``asimov_minos`` (each ``[down, up]`` MINOS errors of the POI,
    down negative), ``labels``, ``bestfit_all``, ``uncertainty_all`` (HESSE),
    ``correlation``; plus ``converged`` (MIGRAD reported a valid minimum),
    ``hesse_positive_definite`` (HESSE at the minimum: accurate, positive definite, not
    forced positive definite), ``poi_at_bound``, ``poi_bounds``, ``stat_only_bestfit``,
    ``asimov_bestfit``, ``significance`` ``{"observed", "expected"}`` (``None`` with a
    warning if its fits fail), ``goodness_of_fit`` (p-value; ``None`` with a warning
    where it is undefined: no degrees of freedom left), ``twice_nll`` and ``warnings``.

    Raises:
        FitError: no POI in the workspace, or a reported number would be NaN/inf.
    """
    opts = _fit_options(strategy, maxiter, tolerance)
    model, data = model_and_data(workspace)
    poi, ipoi = _poi(model)
    table = _parameter_table(model)
    labels = [r["label"] for r in table]
    bounds = table[ipoi]["bounds"]
    warnings: list[str] = []

    # full fit
    full = _fit(model, data, label="fit", minos=[poi], goodness_of_fit=True, **opts)
    warnings += full.warnings
    res = full.results
    bestfit = _finite(res.bestfit[ipoi], f"best fit of {poi}")
    bestfit_all = _finite_list(res.bestfit, "bestfit_all")
    uncertainty_all = [_finite(u, f"HESSE uncertainty of {lab}") for u, lab in zip(res.uncertainty, labels)]
    correlation = _finite_matrix(res.corr_mat, "correlation", labels)
    twice_nll = _finite(res.best_twice_nll, "-2 log L at the best fit")
    minos = _poi_minos(full, poi, ipoi, "fit", warnings)

    fixed = [r["fixed"] for r in table]
    posdef, status = _hesse_check(model, data, bestfit_all, fixed, [r["bounds"] for r in table])
    if not posdef:
        _warn(warnings, f"fit: Hessian not positive definite or not accurate at the best fit ({status})")
    poi_at_bound = _at_bound(bestfit, bounds)
    if poi_at_bound:
        _warn(warnings, f"fit: POI at bound: {poi} = {bestfit:.6g}, bounds [{bounds[0]:g}, {bounds[1]:g}]")
    _check_minos_bounds(bestfit, minos, bounds, "fit", poi, warnings)

    gof: float | None
    if full.converged and not math.isnan(float(res.goodness_of_fit)):
        gof = _finite(res.goodness_of_fit, "goodness-of-fit p-value")
    elif not full.converged:
        gof = None
        _warn(warnings, "fit: goodness of fit not computed (fit did not converge)")
    else:
        gof = None
        _warn(warnings, "fit: goodness of fit undefined (no degrees of freedom: bins <= free unconstrained parameters)")

    # stat-only fit: everything but the free unconstrained parameters fixed at the best fit
    fix_stat = [r["constrained"] or r["fixed"] for r in table]
    stat = _fit(model, data, label="stat-only fit", minos=[poi], init_pars=list(bestfit_all),
                fix_pars=fix_stat, **opts)
    warnings += stat.warnings
    stat_bestfit = _finite(stat.results.bestfit[ipoi], f"stat-only best fit of {poi}")
    stat_minos = _poi_minos(stat, poi, ipoi, "stat-only fit", warnings)
    _check_minos_bounds(stat_bestfit, stat_minos, bounds, "stat-only fit", poi, warnings)

    # expected fit (pre-fit Asimov data)
    model_a, data_a = model_and_data(workspace, asimov=True)
    asi = _fit(model_a, data_a, label="Asimov fit", minos=[poi], **opts)
    warnings += asi.warnings
    asimov_bestfit = _finite(asi.results.bestfit[ipoi], f"Asimov best fit of {poi}")
    asimov_minos = _poi_minos(asi, poi, ipoi, "Asimov fit", warnings)
    _check_minos_bounds(asimov_bestfit, asimov_minos, bounds, "Asimov fit", poi, warnings)

    # discovery significance
    significance: dict[str, float] | None
    tensorlib, optimizer = pyhf.get_backend()
    try:
        sig = cabinetry.fit.significance(model, data, **opts)
        significance = {
            "observed": _finite(sig.observed_significance, "observed significance"),
            "expected": _finite(sig.expected_significance, "expected significance"),
        }
    except pyhf.exceptions.FailedMinimization as err:
        significance = None
        _warn(warnings, f"significance not computed: a fit did not converge ({err})")
    finally:
        pyhf.set_backend(tensorlib, optimizer)

    return {
        "poi": poi,
        "bestfit": bestfit,
        "minos": minos,
        "stat_only_minos": stat_minos,
        "asimov_minos": asimov_minos,
        "labels": labels,
        "bestfit_all": bestfit_all,
        "uncertainty_all": uncertainty_all,
        "correlation": correlation,
        "converged": bool(full.converged),
        "hesse_positive_definite": bool(posdef),
        "poi_at_bound": bool(poi_at_bound),
        "poi_bounds": [float(bounds[0]), float(bounds[1])],
        "stat_only_bestfit": stat_bestfit,
        "asimov_bestfit": asimov_bestfit,
        "stat_only_converged": bool(stat.converged),
        "asimov_converged": bool(asi.converged),
        "significance": significance,
        "goodness_of_fit": gof,
        "twice_nll": twice_nll,
        "warnings": warnings,
    }
