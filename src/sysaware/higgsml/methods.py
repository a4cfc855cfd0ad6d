"""Which models the HiggsML analysis trains: every method of :mod:`sysaware.train.methods` (it
provides the fit likelihood, the TES nuisance z and its true values), ``true_z`` once per true z.

Light (no torch): the Snakefile reads it when it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..train import methods as M

CAPABILITIES = frozenset({"likelihood", "nuisance", "true_values"})


def capabilities(cfg: Mapping[str, Any]) -> frozenset[str]:
    """What the HiggsML data give the methods (always all of it)."""
    return CAPABILITIES


def variants(cfg: Mapping[str, Any], method: M.Method) -> list[str] | None:
    """``true_z``: one model per ``higgsml.tes.true_values`` entry (``true_z_0``, ``true_z_1``...);
    None (one model) for the others."""
    if method.z == "true":
        return [str(k) for k in range(len(cfg["higgsml"]["tes"]["true_values"]))]
    return None


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Enabled methods, in the registry's order."""
    return M.enabled_methods(cfg, capabilities(cfg))


def model_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained models: one per method, ``true_z`` as one per true z."""
    return M.model_names(cfg, capabilities(cfg), variants)


def model_pattern(cfg: Mapping[str, Any]) -> str:
    """Regular expression of this config's model names (rule wildcards)."""
    return "|".join(model_names(cfg)) or "(?!)"
