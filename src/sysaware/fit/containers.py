"""JSON results of the fit stage back into cabinetry containers (for its plotting functions)."""

from __future__ import annotations

from typing import Any

import numpy as np
from cabinetry.fit.results_containers import FitResults, RankingResults, ScanResults

from .impacts import RANKING_KEYS


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
        *(np.asarray(ranking_json[k], dtype=float) for k in RANKING_KEYS),
    )
