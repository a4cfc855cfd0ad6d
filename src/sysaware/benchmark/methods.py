"""Which models the INFERNO benchmark trains: every method of :mod:`sysaware.train.methods`.

The nuisance z of the z-methods is the background shift r; ``true_z`` trains at its nominal
value (the paper table evaluates every summary at the nominal point: ``true_z_0`` is a second,
independently seeded classifier there).  INFERNO is trained once per benchmark in
``methods.inferno.trained_under`` (``inferno_bm<k>``: the loss is var(s) of benchmark k).

Light (no torch): the Snakefile reads it when it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..train import methods as M

CAPABILITIES = frozenset({"likelihood", "nuisance", "true_values"})
#: the true values of r that true_z trains at
TRUE_VALUES = (0.0,)


def capabilities(cfg: Mapping[str, Any]) -> frozenset[str]:
    """What the benchmark gives the methods (all of it)."""
    return CAPABILITIES


def variants(cfg: Mapping[str, Any], method: M.Method) -> list[str] | None:
    """``inferno``: ``bm<k>`` per trained-under benchmark; ``true_z``: one per true value; None
    (one model) for the others."""
    if method.name == "inferno":
        return [f"bm{k}" for k in cfg["methods"]["inferno"]["trained_under"]]
    if method.z == "true":
        return [str(k) for k in range(len(TRUE_VALUES))]
    return None


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained models (``bce``, ``inferno_bm<k>``, ...): the benchmark's methods are its models."""
    return M.model_names(cfg, capabilities(cfg), variants)


def model_pattern(cfg: Mapping[str, Any]) -> str:
    """Regular expression of this config's model names (rule wildcards)."""
    return "|".join(method_names(cfg)) or "(?!)"
