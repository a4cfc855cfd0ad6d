"""Names of what the benchmark trains and fits; no torch (the Snakefile reads them when it is parsed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained models of the benchmark: ``bce`` and ``inferno_bm<k>`` per benchmark."""
    methods = cfg["methods"]
    names = ["bce"] if methods["bce"]["enabled"] else []
    names += [f"inferno_bm{k}" for k in methods["inferno"]["trained_under"]]
    return names
