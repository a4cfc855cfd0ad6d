"""The INFERNO benchmark's entry in the analysis registry (:mod:`sysaware.analyses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses import Analysis


def targets(cfg: Mapping[str, Any]) -> list[str]:
    """Its own result files: the paper table (the shared fit stage adds the fits and the comparison)."""
    return [f"paper_table.{ext}" for ext in ("json", "md", "png")]


ANALYSIS = Analysis(
    name="inferno_benchmark", package="sysaware.benchmark", rules="benchmark.smk",
    sections=("benchmark", "training", "methods", "fit", "reference_dir"),
    stage_excludes={"data": ("benchmark.n_repeats", "benchmark.z_train_range")},
    method_names="sysaware.benchmark.methods:method_names",
    capabilities="sysaware.benchmark.methods:capabilities",
    fit_models="sysaware.benchmark.config_checks:benchmark_fit_models",
    targets="sysaware.benchmark.analysis:targets",
)
