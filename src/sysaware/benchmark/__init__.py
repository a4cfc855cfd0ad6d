"""INFERNO synthetic 3-feature benchmark: mixture generator and analytic-likelihood reference.

The names below are imported on first use (they need torch); :mod:`.model`, the fit's
HistFactory description, can be imported without torch.
"""

from ..lazy import lazy_attributes

_ANALYTIC = ("BENCHMARKS", "analytic_sqrt_var_s", "analytic_table", "fisher_information")
_MIXTURE = (
    "SIGNAL_MEAN_CODE",
    "SIGNAL_MEAN_TEXT",
    "MixtureParams",
    "generate",
    "log_density_background",
    "log_density_signal",
    "sample_background",
    "sample_signal",
    "shift_background",
)

__all__ = sorted([*_ANALYTIC, *_MIXTURE])

__getattr__ = lazy_attributes(__name__, {**dict.fromkeys(_ANALYTIC, "analytic"), **dict.fromkeys(_MIXTURE, "mixture")})
