"""The CMS tau+jets analysis's entry in the analysis registry (:mod:`sysaware.analyses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses import Analysis


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Its own result files besides the shared fit stage's: the generator's truth of the pseudo-data, and
    the fit with templates and data rebuilt at each JES of every summary that takes JES as an input."""
    from .methods import grid_fit_methods

    truth = ["generated/data_truth.json"] if any(s.get("generated") == "data" for s in cfg["cms"]["samples"]) else []
    return truth + [f"fit/{m}/grid_fit.json" for m in grid_fit_methods(cfg)]


ANALYSIS = Analysis(
    name="cms_ttbar_taujets", package="sysaware.cms", rules="cms.smk",
    sections=("cms", "training", "methods", "fit"),
    # generation and ingestion do not read the fit model's normalisations
    stage_excludes={"data": ("cms.norm_systematics", "cms.qcd_norm_bounds")},
    method_names="sysaware.cms.methods:method_names",
    capabilities="sysaware.cms.methods:capabilities",
    config_checks="sysaware.cms.config_checks:check_cms_config",
    fit_models="sysaware.cms.config_checks:cms_fit_models",
    targets="sysaware.cms.analysis:targets",
)
