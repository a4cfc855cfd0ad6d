"""Profile-likelihood fits of a pyhf workspace with cabinetry: the numbers, no plots.

Every function takes a pyhf workspace (a dict, e.g. from ``cabinetry.workspace.build``
or a ``pyhf.Workspace``) whose measurement names the parameter of interest (POI), and
returns plain JSON-ready dicts (Python floats, bools, strings and lists; never NaN).

Fits go through cabinetry's public API (``cabinetry.model_utils.model_and_data``,
``cabinetry.fit.fit``, ``cabinetry.fit.scan``, ``cabinetry.fit.significance``), which
runs MIGRAD + HESSE (+ MINOS) through ``pyhf.infer.mle.fit`` with the minuit optimizer
and cabinetry's interpolation codes (normsys code4, histosys code4p).

Problems are never hidden: a MIGRAD failure (pyhf raises ``FailedMinimization``) is
retried once with Minuit strategy 2 from the point where it stopped; if that fails too,
the numbers of the failed Minuit object are reported with ``converged: false``.  Every
such event, a Hessian that Minuit had to force positive definite, a POI at a bound, a
MINOS interval that reaches a bound, or an undefined goodness of fit is written to the
``warnings`` list of the result and logged with ``logging.getLogger(__name__).warning``.
A quantity that would be NaN (or infinite) raises :class:`FitError` naming it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cabinetry
import iminuit
import numpy as np
import pyhf
from cabinetry.fit.results_containers import FitResults, RankingResults, ScanResults

log = logging.getLogger(__name__)

Strategy = Literal[0, 1, 2] | None

#: relative tolerance (of the POI's bound range, at least 1) for "best fit at a bound"
BOUND_RTOL = 1e-6


class FitError(ValueError):
    """A fit quantity is undefined (NaN/inf), or the inputs do not describe a fit."""


# --------------------------------------------------------------------------- helpers


def _finite(value: Any, quantity: str) -> float:
    """``value`` as a Python float; :class:`FitError` naming ``quantity`` if not finite."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise FitError(f"{quantity} is not a number: {value!r}") from err
    if not math.isfinite(v):
        raise FitError(f"{quantity} is {v} (not finite)")
    return v


def _finite_list(values: Any, quantity: str) -> list[float]:
    return [_finite(v, f"{quantity}[{i}]") for i, v in enumerate(np.asarray(values, dtype=float).ravel())]


def _finite_matrix(values: Any, quantity: str, labels: Sequence[str]) -> list[list[float]]:
    arr = np.asarray(values, dtype=float)
    return [
        [_finite(arr[i, j], f"{quantity}[{labels[i]}, {labels[j]}]") for j in range(arr.shape[1])]
        for i in range(arr.shape[0])
    ]


def _warn(warnings: list[str], message: str) -> None:
    """Record ``message`` in the result's warnings and log it."""
    warnings.append(message)
    log.warning(message)


@dataclass
class _Outcome:
    """One fit: cabinetry's results plus whether MIGRAD reported a valid minimum."""

    results: FitResults
    converged: bool
    warnings: list[str] = field(default_factory=list)


def _fit_options(strategy: Strategy, maxiter: int | None, tolerance: float | None) -> dict[str, Any]:
    return {"strategy": strategy, "maxiter": maxiter, "tolerance": tolerance}


def _correlation(cov: np.ndarray, fixed: Sequence[bool]) -> np.ndarray:
    """Correlation matrix from a covariance; rows/columns of fixed parameters are 0 (as pyhf)."""
    cov = np.asarray(cov, dtype=float)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    free = ~np.asarray(fixed, dtype=bool) & (sd > 0)
    corr[~free, :] = 0.0
    corr[:, ~free] = 0.0
    return corr


def _results_from_failed_minuit(model: pyhf.pdf.Model, minuit: iminuit.Minuit, label: str) -> FitResults:
    """FitResults from the Minuit object of a failed MIGRAD (HESSE is attempted for errors).

    MINOS is not run: Minuit refuses it on an invalid minimum.
    """
    try:
        minuit.hesse()
    except Exception as err:  # noqa: BLE001 - reported, and the NaN check below raises
        log.warning("%s: HESSE after failed MIGRAD raised %s", label, err)
    bestfit = np.asarray(minuit.values, dtype=float)
    fixed = list(minuit.fixed)
    errors = np.where(fixed, 0.0, np.asarray(minuit.errors, dtype=float))
    if minuit.covariance is not None:
        corr = _correlation(np.asarray(minuit.covariance), fixed)
    else:
        corr = np.full((len(bestfit), len(bestfit)), np.nan)
    return FitResults(bestfit, errors, list(model.config.par_names), corr, float(minuit.fval))


def _fit(
    model: pyhf.pdf.Model,
    data: list[float],
    *,
    label: str,
    minos: list[str] | None = None,
    goodness_of_fit: bool = False,
    init_pars: list[float] | None = None,
    fix_pars: list[bool] | None = None,
    strategy: Strategy = None,
    maxiter: int | None = None,
    tolerance: float | None = None,
) -> _Outcome:
    """``cabinetry.fit.fit`` with one retry (strategy 2) and no hidden failure.

    pyhf raises ``FailedMinimization`` when MIGRAD's minimum is invalid; the exception
    carries the Minuit object.  The retry starts where the failed MIGRAD stopped.
    pyhf's optimizer setting is restored whatever happens (cabinetry does not restore
    it on a failure).
    """
    tensorlib, optimizer = pyhf.get_backend()
    warnings: list[str] = []
    kwargs: dict[str, Any] = {"maxiter": maxiter, "tolerance": tolerance}
    try:
        try:
            res = cabinetry.fit.fit(
                model, data, minos=minos, goodness_of_fit=goodness_of_fit,
                init_pars=init_pars, fix_pars=fix_pars, strategy=strategy, **kwargs,
            )
            return _Outcome(res, True, warnings)
        except pyhf.exceptions.FailedMinimization as err:
            first = err
        pyhf.set_backend(tensorlib, optimizer)
        stopped = np.asarray(first.result.minuit.values, dtype=float)
        retry_init = stopped.tolist() if np.all(np.isfinite(stopped)) else init_pars
        try:
            res = cabinetry.fit.fit(
                model, data, minos=minos, goodness_of_fit=goodness_of_fit,
                init_pars=retry_init, fix_pars=fix_pars, strategy=2, **kwargs,
            )
            _warn(warnings, f"{label}: MIGRAD failed at first ({first}); converged on a retry with strategy 2")
            return _Outcome(res, True, warnings)
        except pyhf.exceptions.FailedMinimization as err:
            _warn(warnings, f"{label} did not converge: {err}")
            return _Outcome(_results_from_failed_minuit(model, err.result.minuit, label), False, warnings)
    finally:
        pyhf.set_backend(tensorlib, optimizer)


def _parameter_table(model: pyhf.pdf.Model) -> list[dict[str, Any]]:
    """One row per entry of ``model.config.par_names``: set name, constrained, fixed, bounds."""
    rows: list[dict[str, Any]] = []
    for name in model.config.par_order:
        ps = model.config.param_set(name)
        for i in range(ps.n_parameters):
            rows.append({
                "set": name,
                "constrained": bool(ps.constrained),
                "fixed": bool(ps.suggested_fixed[i]),
                "bounds": tuple(float(b) for b in ps.suggested_bounds[i]),
            })
    labels = model.config.par_names
    if len(rows) != len(labels):  # pragma: no cover - pyhf invariant
        raise FitError("pyhf parameter table and par_names disagree")
    for row, lab in zip(rows, labels):
        row["label"] = lab
    return rows


def _poi(model: pyhf.pdf.Model) -> tuple[str, int]:
    name = model.config.poi_name
    if name is None:
        raise FitError("the workspace's measurement names no POI (config.poi)")
    return name, int(model.config.poi_index)


def _poi_minos(outcome: _Outcome, poi: str, poi_index: int, label: str, warnings: list[str]) -> list[float]:
    """MINOS [down, up] of the POI; the symmetric HESSE error (with a warning) where MINOS is missing."""
    unc = outcome.results.minos_uncertainty.get(poi)
    if unc is None:
        hesse = _finite(outcome.results.uncertainty[poi_index], f"{label}: HESSE error of {poi}")
        _warn(warnings, f"{label}: no MINOS interval for {poi} (fit did not converge); "
                        f"reporting the symmetric HESSE error +-{hesse:.6g} instead")
        return [-hesse, hesse]
    return [_finite(unc[0], f"{label}: MINOS down error of {poi}"), _finite(unc[1], f"{label}: MINOS up error of {poi}")]


def _check_minos_bounds(bestfit: float, minos: list[float], bounds: tuple[float, float], label: str,
                        poi: str, warnings: list[str]) -> None:
    lo, hi = bounds
    tol = BOUND_RTOL * max(1.0, hi - lo)
    if bestfit + minos[0] <= lo + tol:
        _warn(warnings, f"{label}: the MINOS interval of {poi} reaches its lower bound {lo:g}")
    if bestfit + minos[1] >= hi - tol:
        _warn(warnings, f"{label}: the MINOS interval of {poi} reaches its upper bound {hi:g}")


def _hesse_check(model: pyhf.pdf.Model, data: list[float], bestfit: Sequence[float],
                 fixed: Sequence[bool], bounds: Sequence[tuple[float, float]]) -> tuple[bool, str]:
    """HESSE at the best-fit point with a fresh Minuit on the same -2 log L: (pos-def and accurate, status).

    cabinetry's ``FitResults`` do not carry Minuit's covariance status, so the status is
    recomputed here (one HESSE, same function, same fixed parameters and limits as the fit).
    """
    tl = pyhf.tensorlib
    data_t = tl.astensor(data)

    def twice_nll(pars: np.ndarray) -> float:
        return float(tl.to_numpy(-2.0 * model.logpdf(tl.astensor(pars), data_t))[0])

    m = iminuit.Minuit(twice_nll, np.asarray(bestfit, dtype=float), name=list(model.config.par_names))
    m.errordef = 1.0
    m.limits = [tuple(b) for b in bounds]
    m.fixed = list(fixed)
    m.print_level = 0
    if m.nfit == 0:
        return True, "all parameters fixed"
    m.hesse()
    fm = m.fmin
    ok = bool(fm.has_covariance and fm.has_posdef_covar and fm.has_accurate_covar
              and not fm.has_made_posdef_covar and not fm.hesse_failed)
    status = (f"covariance={fm.has_covariance}, accurate={fm.has_accurate_covar}, "
              f"posdef={fm.has_posdef_covar}, made_posdef={fm.has_made_posdef_covar}, "
              f"hesse_failed={fm.hesse_failed}")
    return ok, status


def _at_bound(value: float, bounds: tuple[float, float]) -> bool:
    lo, hi = bounds
    tol = BOUND_RTOL * max(1.0, hi - lo)
    return abs(value - lo) <= tol or abs(value - hi) <= tol


# --------------------------------------------------------------------------- public API


def model_and_data(workspace: dict[str, Any], asimov: bool = False) -> tuple[pyhf.pdf.Model, list[float]]:
    """pyhf model and data (with auxdata) of a workspace, as cabinetry builds them.

    Thin wrapper of ``cabinetry.model_utils.model_and_data`` (interpolation codes
    normsys code4, histosys code4p).  ``asimov=True`` gives cabinetry's pre-fit Asimov
    data set: constrained parameters at their auxiliary-measurement values, normfactors
    (the POI included) at their initial values.
    """
    return cabinetry.model_utils.model_and_data(dict(workspace), asimov=asimov)


def nuisance_names(workspace: dict[str, Any]) -> list[str]:
    """Labels of the nuisance parameters that get an impact on the POI.

    These are the constrained, non-fixed parameters (normsys, histosys, lumi, staterror,
    shapesys), in pyhf's parameter order and labelled as cabinetry and pyhf label them:
    a parameter set with one entry by its name, a per-bin set as ``name[i]``, e.g.
    ``staterror_ch[0]``.  Per-bin staterror parameters are included, one each, as
    cabinetry's own ``cabinetry.fit.ranking`` includes them.  Excluded: the POI and
    other unconstrained parameters (normfactors, shapefactors: no pre-fit uncertainty,
    they are part of the "statistical" fit), and parameters fixed in the measurement
    (their impact is zero by construction).
    """
    model, _ = model_and_data(workspace)
    poi, _ = _poi(model)
    return [r["label"] for r in _parameter_table(model)
            if r["constrained"] and not r["fixed"] and r["label"] != poi]


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

    Returns the results contract of DESIGN.md §5: ``poi``, ``bestfit``, ``minos``,
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


def poi_scan(
    workspace: dict[str, Any],
    n_steps: int = 21,
    bounds: tuple[float, float] | Sequence[float] | None = None,
    *,
    strategy: Strategy = None,
    maxiter: int | None = None,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Profile-likelihood scan of the POI with ``cabinetry.fit.scan``.

    ``bounds`` is the scanned range; by default the best fit +- 2 HESSE errors, clipped
    to the POI's bounds (a fixed value outside them would be clamped by Minuit).  An
    explicit range outside the POI's bounds is clipped with a warning.  With an odd
    ``n_steps`` and the default range the middle point is the best fit itself.

    Returns ``{"poi", "values", "delta_twice_nll", "bestfit", "uncertainty", "warnings"}``
    where ``delta_twice_nll`` is -2 log L at each value minus its global minimum.

    Raises:
        FitError: a fit of the scan did not converge, or a number is NaN.
        ValueError: ``n_steps < 2`` or an empty range.
    """
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    opts = _fit_options(strategy, maxiter, tolerance)
    model, data = model_and_data(workspace)
    poi, ipoi = _poi(model)
    lo_b, hi_b = model.config.suggested_bounds()[ipoi]
    warnings: list[str] = []

    nominal = _fit(model, data, label="scan: nominal fit", **opts)
    warnings += nominal.warnings
    if not nominal.converged:
        raise FitError(f"scan of {poi}: the nominal fit did not converge")
    mle = _finite(nominal.results.bestfit[ipoi], f"best fit of {poi}")
    unc = _finite(nominal.results.uncertainty[ipoi], f"HESSE error of {poi}")
    if bounds is None:
        lo, hi = mle - 2.0 * unc, mle + 2.0 * unc
    else:
        lo, hi = (float(b) for b in bounds)
    if lo < lo_b or hi > hi_b:
        if bounds is not None:
            _warn(warnings, f"scan range [{lo:g}, {hi:g}] clipped to the bounds of {poi} [{lo_b:g}, {hi_b:g}]")
        lo, hi = max(lo, lo_b), min(hi, hi_b)
    if not hi > lo:
        raise ValueError(f"empty scan range [{lo}, {hi}] for {poi}")

    tensorlib, optimizer = pyhf.get_backend()
    try:
        scan = cabinetry.fit.scan(model, data, poi, par_range=(lo, hi), n_steps=n_steps, **opts)
    except pyhf.exceptions.FailedMinimization as err:
        raise FitError(f"scan of {poi}: a fit did not converge ({err})") from err
    finally:
        pyhf.set_backend(tensorlib, optimizer)
    delta = _finite_list(scan.delta_nlls, "delta_twice_nll")
    if min(delta) < -1e-3:
        _warn(warnings, f"scan of {poi}: a scan point lies {-min(delta):.3g} below the nominal minimum "
                        "(the nominal fit did not find the global minimum)")
    return {
        "poi": poi,
        "values": _finite_list(scan.parameter_values, "scan values"),
        "delta_twice_nll": delta,
        "bestfit": _finite(scan.bestfit, f"best fit of {poi}"),
        "uncertainty": _finite(scan.uncertainty, f"HESSE error of {poi}"),
        "warnings": warnings,
    }


def nuisance_impact(
    workspace: dict[str, Any],
    parameter: str,
    fit: dict[str, Any] | None = None,
    *,
    strategy: Strategy = None,
    maxiter: int | None = None,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Pre- and post-fit impact of one nuisance parameter on the POI (one Snakemake job each).

    cabinetry 0.6's ``cabinetry.fit.ranking`` has no argument to restrict it to one
    parameter (it always refits every parameter), so its procedure is reproduced here
    for one parameter with ``cabinetry.fit.fit``'s ``fix_pars``/``init_pars``: the
    parameter is fixed at best fit +- its pre-fit width (``prefit_up``/``prefit_down``)
    and at best fit +- its post-fit HESSE error (``postfit_up``/``postfit_down``), the
    rest refitted; each impact is the refitted POI minus the nominal best-fit POI.  One
    difference to cabinetry: the refits start from the nominal best fit (cabinetry starts
    from the workspace's initial values); the minimum is the same.  A shifted value
    beyond the parameter's bounds is clipped to them, with a warning.

    Args:
        workspace: the pyhf workspace.
        parameter: a label from :func:`nuisance_names`, e.g. ``"jes"`` or ``"staterror_ch[0]"``.
        fit: the output of :func:`fit_results` for this workspace (nominal best fit and
            errors); ``None`` runs the nominal fit here.

    Returns:
        ``{"poi", "parameter", "bestfit", "uncertainty", "prefit_uncertainty",
        "poi_bestfit", "prefit_up", "prefit_down", "postfit_up", "postfit_down",
        "converged", "warnings"}`` (``converged``: all refits converged).
    """
    opts = _fit_options(strategy, maxiter, tolerance)
    model, data = model_and_data(workspace)
    poi, ipoi = _poi(model)
    table = _parameter_table(model)
    labels = [r["label"] for r in table]
    if parameter not in labels:
        raise FitError(f"parameter {parameter!r} not in the model (parameters: {labels})")
    ipar = labels.index(parameter)
    if ipar == ipoi:
        raise FitError(f"{parameter!r} is the POI: it has no impact on itself")
    warnings: list[str] = []

    if fit is None:
        nominal = _fit(model, data, label="impact: nominal fit", **opts)
        warnings += nominal.warnings
        if not nominal.converged:
            _warn(warnings, "impact: nominal fit did not converge")
        bestfit_all = np.asarray(nominal.results.bestfit, dtype=float)
        unc_all = np.asarray(nominal.results.uncertainty, dtype=float)
    else:
        if list(fit.get("labels", [])) != labels:
            raise FitError("the fit results' labels do not match the workspace's parameters")
        if fit.get("converged") is False:
            _warn(warnings, f"impact of {parameter}: the nominal fit it starts from did not converge")
        bestfit_all = np.asarray(fit["bestfit_all"], dtype=float)
        unc_all = np.asarray(fit["uncertainty_all"], dtype=float)
    nominal_poi = _finite(bestfit_all[ipoi], f"best fit of {poi}")
    value = _finite(bestfit_all[ipar], f"best fit of {parameter}")
    post = _finite(unc_all[ipar], f"post-fit uncertainty of {parameter}")
    pre = _finite(cabinetry.model_utils.prefit_uncertainties(model)[ipar], f"pre-fit uncertainty of {parameter}")
    lo, hi = table[ipar]["bounds"]

    fix = [r["fixed"] for r in table]
    fix[ipar] = True
    converged = True
    impacts: dict[str, float] = {}
    for key, shifted in (("prefit_up", value + pre), ("prefit_down", value - pre),
                         ("postfit_up", value + post), ("postfit_down", value - post)):
        if shifted == value:
            impacts[key] = 0.0
            continue
        if not lo <= shifted <= hi:
            _warn(warnings, f"impact of {parameter}: {key} value {shifted:.6g} outside its bounds "
                            f"[{lo:g}, {hi:g}], clipped")
            shifted = min(max(shifted, lo), hi)
        init = bestfit_all.tolist()
        init[ipar] = shifted
        out = _fit(model, data, label=f"impact of {parameter} ({key})", init_pars=init, fix_pars=list(fix), **opts)
        warnings += out.warnings
        converged &= out.converged
        impacts[key] = _finite(out.results.bestfit[ipoi] - nominal_poi, f"{key} impact of {parameter}")
    return {
        "poi": poi,
        "parameter": parameter,
        "bestfit": value,
        "uncertainty": post,
        "prefit_uncertainty": pre,
        "poi_bestfit": nominal_poi,
        **impacts,
        "converged": bool(converged),
        "warnings": warnings,
    }


_RANKING_KEYS = ("prefit_up", "prefit_down", "postfit_up", "postfit_down")


def merge_ranking(impacts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge :func:`nuisance_impact` outputs into the ranking, largest post-fit impact first.

    Sorted by ``max(|postfit_up|, |postfit_down|)``, decreasing (as
    ``cabinetry.visualize.ranking`` orders its plot).  Returns ``{"poi", "labels",
    "bestfit", "uncertainty", "prefit_up", "prefit_down", "postfit_up", "postfit_down",
    "warnings"}``, the fields of cabinetry's ``RankingResults``.

    Raises:
        ValueError: impacts for different POIs, or a parameter listed twice.
    """
    pois = {imp["poi"] for imp in impacts}
    if len(pois) > 1:
        raise ValueError(f"impacts refer to different POIs: {sorted(pois)}")
    names = [imp["parameter"] for imp in impacts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"parameters with more than one impact: {dupes}")
    order = sorted(range(len(impacts)),
                   key=lambda i: (-max(abs(impacts[i]["postfit_up"]), abs(impacts[i]["postfit_down"])), names[i]))
    out: dict[str, Any] = {
        "poi": next(iter(pois)) if pois else None,
        "labels": [names[i] for i in order],
        "bestfit": [_finite(impacts[i]["bestfit"], f"best fit of {names[i]}") for i in order],
        "uncertainty": [_finite(impacts[i]["uncertainty"], f"uncertainty of {names[i]}") for i in order],
    }
    for key in _RANKING_KEYS:
        out[key] = [_finite(impacts[i][key], f"{key} impact of {names[i]}") for i in order]
    out["warnings"] = [w for i in order for w in impacts[i].get("warnings", [])]
    return out


# ------------------------------------------------- JSON -> cabinetry containers (for plots)


def to_fit_results(fit_json: dict[str, Any]) -> FitResults:
    """cabinetry ``FitResults`` rebuilt from :func:`fit_results`' JSON (no refit)."""
    poi = fit_json["poi"]
    gof = fit_json.get("goodness_of_fit")
    return FitResults(
        np.asarray(fit_json["bestfit_all"], dtype=float),
        np.asarray(fit_json["uncertainty_all"], dtype=float),
        list(fit_json["labels"]),
        np.asarray(fit_json["correlation"], dtype=float),
        float(fit_json.get("twice_nll", 0.0)),
        goodness_of_fit=-1.0 if gof is None else float(gof),
        minos_uncertainty={poi: (float(fit_json["minos"][0]), float(fit_json["minos"][1]))},
    )


def to_scan_results(scan_json: dict[str, Any], fit_json: dict[str, Any] | None = None) -> ScanResults:
    """cabinetry ``ScanResults`` from :func:`poi_scan`'s JSON (HESSE error from ``fit_json`` if absent)."""
    unc = scan_json.get("uncertainty")
    if unc is None:
        if fit_json is None:
            raise ValueError("scan JSON has no 'uncertainty'; pass the fit results")
        unc = fit_json["uncertainty_all"][fit_json["labels"].index(scan_json["poi"])]
    return ScanResults(
        scan_json["poi"], float(scan_json["bestfit"]), float(unc),
        np.asarray(scan_json["values"], dtype=float), np.asarray(scan_json["delta_twice_nll"], dtype=float),
    )


def to_ranking_results(ranking_json: dict[str, Any]) -> RankingResults:
    """cabinetry ``RankingResults`` from :func:`merge_ranking`'s JSON."""
    return RankingResults(
        np.asarray(ranking_json["bestfit"], dtype=float),
        np.asarray(ranking_json["uncertainty"], dtype=float),
        list(ranking_json["labels"]),
        *(np.asarray(ranking_json[k], dtype=float) for k in _RANKING_KEYS),
    )
