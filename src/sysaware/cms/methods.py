"""Which models the tau+jets analysis trains: every method of :mod:`sysaware.train.methods` whose
needs it meets (the fit likelihood always; the jet energy scale as nuisance z when JES is one of
``cms.shape_systematics``; no true values to train ``true_z`` at: the nominal and the +-1 sigma
copies of the events are the only JES values the events exist at).

Light (no torch): the Snakefile reads it when it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..train import methods as M

#: the nuisance z of the z-methods, and the values (in sigma) its shifted copies exist at
NUISANCE = "jes"
NUISANCE_VALUES = (-1.0, 0.0, 1.0)


def capabilities(cfg: Mapping[str, Any]) -> frozenset[str]:
    """``likelihood``, and ``nuisance`` when JES is a shape systematic (without a ``cms`` section:
    what the analysis can provide at most)."""
    systematics = cfg.get("cms", {}).get("shape_systematics", (NUISANCE,))
    return frozenset({"likelihood"} | ({"nuisance"} if NUISANCE in systematics else set()))


def variants(cfg: Mapping[str, Any], method: M.Method) -> list[str] | None:
    """None: no method has variants here (one model each)."""
    return None


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Enabled methods this config can train, in the registry's order."""
    return M.enabled_methods(cfg, capabilities(cfg))


def model_pattern(cfg: Mapping[str, Any]) -> str:
    """Regular expression of this config's model names (rule wildcards)."""
    return "|".join(method_names(cfg)) or "(?!)"


def grid_fit_methods(cfg: Mapping[str, Any]) -> list[str]:
    """Trained methods whose summary takes the nuisance as an input: fitted with templates and data
    rebuilt at each node of it as well (``fit/<method>/grid_fit.json``)."""
    return [m for m in method_names(cfg) if M.get(m).z_input]
