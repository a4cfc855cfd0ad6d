"""Generic fit stage: profile-likelihood fits of a pyhf workspace with cabinetry, and their plots.

Numbers (:mod:`.mle`, :mod:`.scan`, :mod:`.impacts`, on the shared machinery of :mod:`.core`)
are separated from figures (:mod:`.plots`); the figures are rebuilt from the numbers' JSON
(:mod:`.containers`), never by refitting.
"""

from .containers import to_fit_results, to_ranking_results, to_scan_results
from .core import FitError, model_and_data, nuisance_names
from .impacts import merge_ranking, nuisance_impact
from .mle import fit_results
from .plots import plot_fit, plot_template_variations
from .scan import poi_scan

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
