"""Generic fit stage: profile-likelihood fits of a pyhf workspace with cabinetry, and their plots.

Numbers (:mod:`sysaware.fit.fits`) are separated from figures (:mod:`sysaware.fit.plots`);
the figures are rebuilt from the numbers' JSON, never by refitting.
"""

from .fits import (
    FitError,
    fit_results,
    merge_ranking,
    model_and_data,
    nuisance_impact,
    nuisance_names,
    poi_scan,
    to_fit_results,
    to_ranking_results,
    to_scan_results,
)
from .plots import plot_fit, plot_template_variations

__all__ = [
    "FitError",
    "fit_results",
    "merge_ranking",
    "model_and_data",
    "nuisance_impact",
    "nuisance_names",
    "plot_fit",
    "plot_template_variations",
    "poi_scan",
    "to_fit_results",
    "to_ranking_results",
    "to_scan_results",
]
