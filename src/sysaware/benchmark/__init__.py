"""INFERNO synthetic 3-feature benchmark: mixture generator and analytic-likelihood reference."""

from .analytic import BENCHMARKS, analytic_sqrt_var_s, analytic_table, fisher_information
from .mixture import (
    SIGNAL_MEAN_CODE,
    SIGNAL_MEAN_TEXT,
    MixtureParams,
    generate,
    log_density_background,
    log_density_signal,
    sample_background,
    sample_signal,
    shift_background,
)

__all__ = [
    "BENCHMARKS",
    "SIGNAL_MEAN_CODE",
    "SIGNAL_MEAN_TEXT",
    "MixtureParams",
    "analytic_sqrt_var_s",
    "analytic_table",
    "fisher_information",
    "generate",
    "log_density_background",
    "log_density_signal",
    "sample_background",
    "sample_signal",
    "shift_background",
]
