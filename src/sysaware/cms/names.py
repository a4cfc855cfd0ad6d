"""Names of what the CMS analysis trains and fits; no torch (the Snakefile reads them when it is parsed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METHODS = ("bce", "inferno")


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained methods of the analysis: ``bce`` and ``inferno`` as enabled."""
    m = cfg["methods"]
    return [name for name in METHODS if m[name].get("enabled", True)]
