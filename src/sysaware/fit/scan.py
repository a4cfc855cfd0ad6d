"""Likelihood scan of the parameter of interest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cabinetry
import pyhf

from .core import (
    FitError,
    Strategy,
    model_and_data,
    _finite,
    _finite_list,
    _fit,
    _fit_options,
    _poi,
    _warn,
)


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
