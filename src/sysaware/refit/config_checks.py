"""Cross-references of the ``refit`` section, checked when the config is read (before any job)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .entries import check_refit_entry


def check_refit_config(cfg: Mapping[str, Any]) -> None:
    """Every entry of ``refit.fits`` describes a fit (:func:`~.entries.check_refit_entry`)."""
    for name, fit in cfg["refit"]["fits"].items():
        check_refit_entry(fit, f"refit.fits.{name}")


def refit_fit_models(cfg: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each entry's fit model as {modifier name: modifier type}, keyed by ``refit.fits.<name>``."""
    return {f"refit.fits.{name}": {**{nf["name"]: "normfactor" for nf in fit["normfactors"]},
                                   **{sy["name"]: sy["type"] for sy in fit.get("systematics", [])}}
            for name, fit in cfg["refit"]["fits"].items()}
