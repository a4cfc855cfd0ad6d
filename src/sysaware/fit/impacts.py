"""Pre- and post-fit impact of one nuisance on the POI (one Snakemake job each), and the ranking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cabinetry
import numpy as np

from .core import (
    FitError,
    Strategy,
    model_and_data,
    _finite,
    _fit,
    _fit_options,
    _parameter_table,
    _poi,
    _warn,
)


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


RANKING_KEYS = ("prefit_up", "prefit_down", "postfit_up", "postfit_down")


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
    for key in RANKING_KEYS:
        out[key] = [_finite(impacts[i][key], f"{key} impact of {names[i]}") for i in order]
    out["warnings"] = [w for i in order for w in impacts[i].get("warnings", [])]
    return out
