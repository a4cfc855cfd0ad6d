"""Every training method, one module each (``METHOD``), found by looking at this package.

Adding a method is adding its module here and its entry under ``methods`` in the config
schema; every analysis whose data provide what it requires can then train it.  Nothing here
imports torch.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from .base import CAPABILITIES, Method

__all__ = ["CAPABILITIES", "Method", "all_methods", "enabled_methods", "get", "model_names", "parse_model_name"]


@lru_cache(maxsize=1)
def all_methods() -> dict[str, Method]:
    """Every method, by name, in its ``order``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        method = getattr(importlib.import_module(f"{__name__}.{info.name}"), "METHOD", None)
        if isinstance(method, Method):
            found.append(method)
    return {m.name: m for m in sorted(found, key=lambda m: m.order)}


def get(name: str) -> Method:
    """The method called ``name``."""
    methods = all_methods()
    if name not in methods:
        raise ValueError(f"unknown training method {name!r} (known: {list(methods)})")
    return methods[name]


def enabled_methods(cfg: Mapping[str, Any], capabilities: frozenset[str] | set[str]) -> list[str]:
    """Methods enabled in ``cfg['methods']`` that data with ``capabilities`` support, in order."""
    chosen = cfg.get("methods", {})
    return [name for name, m in all_methods().items()
            if chosen.get(name, {}).get("enabled", True) and m.supported_by(capabilities)]


Variants = Callable[[Mapping[str, Any], Method], "list[str] | None"]


def model_names(cfg: Mapping[str, Any], capabilities: frozenset[str] | set[str], variants: Variants) -> list[str]:
    """Trained models: ``<method>`` per enabled method, or ``<method>_<variant>`` per variant when
    ``variants(cfg, method)`` lists them (e.g. ``true_z_0``, ``inferno_bm4``; an empty list: no
    model; None: one model without a variant)."""
    out = []
    for name in enabled_methods(cfg, capabilities):
        vs = variants(cfg, get(name))
        out += [name] if vs is None else [f"{name}_{v}" for v in vs]
    return out


def parse_model_name(cfg: Mapping[str, Any], name: str, capabilities: frozenset[str] | set[str],
                     variants: Variants) -> tuple[Method, str | None]:
    """(method, variant or None) of a model name of :func:`model_names`."""
    for method_name in enabled_methods(cfg, capabilities):
        method = get(method_name)
        vs = variants(cfg, method)
        if vs is None:
            if name == method_name:
                return method, None
            continue
        for v in vs:
            if name == f"{method_name}_{v}":
                return method, v
    raise ValueError(f"unknown model {name!r}; this config trains {model_names(cfg, capabilities, variants)}")
