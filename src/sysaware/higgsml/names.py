"""Names of what the HiggsML study trains and fits; no torch (the Snakefile reads them when it is parsed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METHODS = ("bce", "augment", "aware", "pivot", "disco", "inferno", "true_z")


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Enabled methods, in the order of :data:`METHODS`."""
    m = cfg["methods"]
    return [name for name in METHODS if m.get(name, {}).get("enabled", True)]


def model_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained models: one per method, ``true_z`` as one per true z (``true_z_0``, ``true_z_1``, ...)."""
    out = []
    for m in method_names(cfg):
        if m == "true_z":
            out += [f"true_z_{k}" for k in range(len(cfg["higgsml"]["tes"]["true_values"]))]
        else:
            out.append(m)
    return out
