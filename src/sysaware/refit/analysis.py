"""The refit of user-supplied histograms' entry in the analysis registry (:mod:`sysaware.analyses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses import Analysis


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """No result files of its own: the shared fit stage writes them all."""
    return []


ANALYSIS = Analysis(
    name="refit", package="sysaware.refit", rules="refit.smk",
    sections=("refit", "fit"),
    method_names="sysaware.refit.names:method_names",
    config_checks="sysaware.refit.config_checks:check_refit_config",
    fit_models="sysaware.refit.config_checks:refit_fit_models",
    targets="sysaware.refit.analysis:targets",
)
