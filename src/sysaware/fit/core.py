"""Shared machinery of the fit stage: the checked cabinetry fit, parameter tables, NaN guards.

The numbers live in :mod:`.mle` (best fit, MINOS, stat-only, Asimov), :mod:`.scan` and
:mod:`.impacts`; :mod:`.containers` turns their JSON back into cabinetry containers.

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
from cabinetry.fit.results_containers import FitResults

from ..errors import SysawareError

log = logging.getLogger("sysaware.fit")

Strategy = Literal[0, 1, 2] | None

#: relative tolerance (of the POI's bound range, at least 1) for "best fit at a bound"
BOUND_RTOL = 1e-6


class FitError(SysawareError, ValueError):
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
