"""Config checks of the INFERNO benchmark: nothing refers across sections beyond what the schema
checks; its fit model gives the shared checks of ``fit.smoothing``/``fit.symmetrize`` their systematics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config_checks import modifier_types
from .model import fit_spec


def benchmark_fit_models(cfg: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The benchmark fit model's modifiers, {modifier name: modifier type} (no torch, no pyhf)."""
    return {"the benchmark fit model": modifier_types(fit_spec())}
