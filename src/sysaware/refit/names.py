"""Names of what the refit fits; no pyhf (the Snakefile reads them when it is parsed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """What the fit stage fits: every entry of ``refit.fits``, by name."""
    return list(cfg["refit"]["fits"])
