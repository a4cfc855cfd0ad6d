"""Package attributes imported on first use (PEP 562), so that light modules stay light.

A package whose ``__init__`` re-exports torch-based names would import torch for anyone
who imports any of its modules, e.g. the config checks run when the Snakefile is parsed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports[name]`` names the submodule holding ``name``."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{exports[name]}", package), name)

    return __getattr__
