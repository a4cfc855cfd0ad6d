"""Cross-references of the ``higgsml`` section, checked when the config is read (before any job).

The study has no template fit (its profile rebuilds templates on a grid of z), so it has no fit
model whose systematics ``fit.smoothing``/``fit.symmetrize`` could name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config_checks import ConfigError, check_known, check_range, check_split, check_unique
from .model import z_grid


def check_higgsml_config(cfg: Mapping[str, Any]) -> None:
    """The ``higgsml`` section: samples, labels, normalisation systematics, the TES grid, bounds, split."""
    h = cfg["higgsml"]
    names = [s["name"] for s in h["samples"]]
    check_unique(names, "higgsml.samples")
    if not any(s["role"] == "signal" for s in h["samples"]):
        raise ConfigError("higgsml.samples: no sample has role 'signal'")
    for i, s in enumerate(h["samples"]):
        if ("label" in s) == ("detailed_label" in s):
            raise ConfigError(f"higgsml.samples[{i}] ({s['name']!r}): give exactly one of label, detailed_label")
    for name, entry in h["norm_systematics"].items():
        check_known(entry["samples"], names, f"higgsml.norm_systematics.{name}.samples")
    tes = h["tes"]
    try:
        z_grid(tes)
    except ValueError as err:
        raise ConfigError(f"higgsml.tes.grid: {err}") from err
    check_range(tes["train_range"], "higgsml.tes.train_range", holds=0.0)
    check_range(h["mu_bounds"], "higgsml.mu_bounds", holds=float(h["truth_mu"]))
    check_split(h["split"], "higgsml.split")
