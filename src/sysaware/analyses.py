"""The analyses the workflow can run, one entry each, their functions named by import path.

The shared layers (:mod:`sysaware.config_checks`, the Snakefile's ``common.smk``) find an
analysis's functions here and import its package only when they call one: an entry names
functions as ``"package.module:function"`` strings that :func:`resolve` imports with
:mod:`importlib`.  So no shared module imports an analysis package (``tests/test_structure.py``
checks it), and reading a config imports only the configured analysis's light modules.

Adding an analysis: a package under ``sysaware/`` with its config checks and method names, one
entry in :data:`ANALYSES`, the schema's ``analysis`` enum (a test checks that both agree) and
its rules in the Snakefile.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: a config (validated against the schema) -> the names of the fitted methods
MethodNames = Callable[[Mapping[str, Any]], list[str]]
#: a config -> its fit models, each as {modifier name: modifier type}, keyed by how a message names the model
FitModels = Callable[[Mapping[str, Any]], dict[str, dict[str, str]]]


def resolve(path: str) -> Callable[..., Any]:
    """The function that ``"package.module:function"`` names, its module imported on the way."""
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{path!r} is not of the form 'package.module:function'")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Analysis:
    """One analysis: its config name, its package and the import paths of its functions.

    ``config_checks``: ``cfg -> None``, raising :class:`~sysaware.config_checks.ConfigError` for
    cross-references of its section that the schema cannot express (``None``: none to check).
    ``fit_models``: a :data:`FitModels` (``None``: no template fit, nothing to smooth or
    symmetrise).  ``method_names``: a :data:`MethodNames`, what the fit stage fits.
    ``capabilities``: ``cfg -> frozenset`` of what its data give the training methods
    (:mod:`sysaware.train.methods`; ``None``: it trains nothing).
    """

    name: str
    package: str
    method_names: str
    config_checks: str | None = None
    fit_models: str | None = None
    capabilities: str | None = None

    def check_config(self, cfg: Mapping[str, Any]) -> None:
        """Run the analysis's own config checks (if it has any)."""
        if self.config_checks is not None:
            resolve(self.config_checks)(cfg)

    def fit_model_modifiers(self, cfg: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """The analysis's fit models as {where: {modifier name: modifier type}}; ``{}`` without a template fit."""
        return resolve(self.fit_models)(cfg) if self.fit_models is not None else {}

    def methods(self, cfg: Mapping[str, Any]) -> list[str]:
        """What the fit stage fits for ``cfg``."""
        return list(resolve(self.method_names)(cfg))

    def training_methods(self, cfg: Mapping[str, Any]) -> list[str]:
        """Every training method whose needs the analysis's data meet for ``cfg`` (enabled or not)."""
        if self.capabilities is None:
            return []
        from .train.methods import all_methods

        caps = resolve(self.capabilities)(cfg)
        return [name for name, m in all_methods().items() if m.supported_by(caps)]


ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis(name="inferno_benchmark", package="sysaware.benchmark",
             method_names="sysaware.benchmark.methods:method_names",
             capabilities="sysaware.benchmark.methods:capabilities",
             fit_models="sysaware.benchmark.config_checks:benchmark_fit_models"),
    Analysis(name="cms_ttbar_taujets", package="sysaware.cms",
             method_names="sysaware.cms.methods:method_names",
             capabilities="sysaware.cms.methods:capabilities",
             config_checks="sysaware.cms.config_checks:check_cms_config",
             fit_models="sysaware.cms.config_checks:cms_fit_models"),
    Analysis(name="higgsml_tes", package="sysaware.higgsml",
             method_names="sysaware.higgsml.methods:method_names",
             capabilities="sysaware.higgsml.methods:capabilities",
             config_checks="sysaware.higgsml.config_checks:check_higgsml_config"),
    Analysis(name="refit", package="sysaware.refit",
             method_names="sysaware.refit.names:method_names",
             config_checks="sysaware.refit.config_checks:check_refit_config",
             fit_models="sysaware.refit.config_checks:refit_fit_models"),
)}


def analysis(name: str) -> Analysis:
    """The entry of analysis ``name``; :class:`KeyError` naming the known ones if there is none."""
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"analysis {name!r} not in {sorted(ANALYSES)}") from None
