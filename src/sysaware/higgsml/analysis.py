"""The HiggsML tau-energy-scale study's entry in the analysis registry (:mod:`sysaware.analyses`).

It has no HistFactory workspace: its profile likelihood rebuilds templates on a grid of z
(:mod:`sysaware.higgsml.evaluate`), so the shared fit stage does not run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses import Analysis
from .methods import method_names


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Its result files: the comparison, the scans' figure, the prepared events' summary, each method's fit."""
    return (["comparison.json", "comparison.md", "profile_scans.png", "prepared/summary.json"]
            + [f"fit/{m}/fit_results.json" for m in method_names(cfg)])


ANALYSIS = Analysis(
    name="higgsml_tes", package="sysaware.higgsml", rules="higgsml.smk", shared_fit=False,
    sections=("higgsml", "training", "methods"),
    # the preparation reads the file, the samples and the split, not the fit's model or pseudo-data
    stage_excludes={"data": ("higgsml.norm_systematics", "higgsml.mu_bounds", "higgsml.truth_mu",
                             "higgsml.n_toys")},
    method_names="sysaware.higgsml.methods:method_names",
    capabilities="sysaware.higgsml.methods:capabilities",
    config_checks="sysaware.higgsml.config_checks:check_higgsml_config",
    targets="sysaware.higgsml.analysis:targets",
)
