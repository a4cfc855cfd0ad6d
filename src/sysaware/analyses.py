"""The analyses the workflow can run: each package that holds an ``analysis`` module (``ANALYSIS``).

An entry (:class:`Analysis`) says everything the shared layers need of an analysis: its rules
file, whether the shared fit stage fits its workspaces, the config sections it reads, which of
them each stage reads (:mod:`sysaware.stages`), its result files, and its functions: config
checks, fit models, method names and what its data give the training methods, named as
``"package.module:function"`` strings that :func:`resolve` imports only when one is called.  So
no shared module imports an analysis package (``tests/test_structure.py`` checks it), and reading
a config imports only the configured analysis's light modules.

Adding an analysis: a package ``sysaware/<name>/`` with an ``analysis.py`` (its entry), its rules
in ``workflow/rules/``, and its section and name in the config schema.  No shared Python file changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

#: a config (validated against the schema) -> the names of the fitted methods
MethodNames = Callable[[Mapping[str, Any]], list[str]]
#: a config -> its fit models, each as {modifier name: modifier type}, keyed by how a message names the model
FitModels = Callable[[Mapping[str, Any]], dict[str, dict[str, str]]]
#: the config sections every analysis reads
COMMON_SECTIONS = ("analysis", "seed", "results_dir", "threads")


def resolve(path: str) -> Callable[..., Any]:
    """The function that ``"package.module:function"`` names, its module imported on the way."""
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{path!r} is not of the form 'package.module:function'")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Analysis:
    """One analysis: its config name, package, rules, config sections and functions.

    ``rules``: its rules file in ``workflow/rules/``; ``shared_fit``: the shared fit stage
    (``fit.smk``) fits the ``fit/<method>/workspace.json`` its rules write.  ``sections``: the
    top-level config sections it reads besides :data:`COMMON_SECTIONS` (any other is an error).
    ``stage_excludes``: per stage, dotted keys of its sections that the stage does not read
    (:func:`sysaware.stages.stage_config`).  ``targets``: ``cfg -> [paths under results]``, its
    result files besides the shared fit stage's.  ``config_checks``: ``cfg -> None``, raising
    :class:`~sysaware.config_checks.ConfigError` for cross-references the schema cannot express.
    ``fit_models``: a :data:`FitModels` (``None``: no template fit, nothing to smooth or
    symmetrise).  ``method_names``: a :data:`MethodNames`, what the fit stage fits.
    ``capabilities``: ``cfg -> frozenset`` of what its data give the training methods
    (:mod:`sysaware.train.methods`; ``None``: it trains nothing).
    """

    name: str
    package: str
    rules: str
    method_names: str
    targets: str
    shared_fit: bool = True
    sections: tuple[str, ...] = ()
    stage_excludes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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

    def result_files(self, cfg: Mapping[str, Any]) -> list[str]:
        """Its own result files (paths under ``results_dir/<analysis>``)."""
        return list(resolve(self.targets)(cfg))

    def training_capabilities(self, cfg: Mapping[str, Any]) -> frozenset[str]:
        """What its data give the training methods (empty: it trains nothing)."""
        return frozenset(resolve(self.capabilities)(cfg)) if self.capabilities is not None else frozenset()

    def training_methods(self, cfg: Mapping[str, Any]) -> list[str]:
        """Every training method whose needs the analysis's data meet for ``cfg`` (enabled or not)."""
        if self.capabilities is None:
            return []
        from .train.methods import all_methods

        caps = self.training_capabilities(cfg)
        return [name for name, m in all_methods().items() if m.supported_by(caps)]


@lru_cache(maxsize=1)
def _discover() -> dict[str, Analysis]:
    import sysaware

    found: dict[str, Analysis] = {}
    for info in pkgutil.iter_modules(sysaware.__path__):
        # look for the file, not the module: finding a submodule's spec imports its package
        folder = Path(getattr(info.module_finder, "path", "")) / info.name
        if not info.ispkg or not (folder / "analysis.py").is_file():
            continue
        entry = getattr(importlib.import_module(f"sysaware.{info.name}.analysis"), "ANALYSIS", None)
        if isinstance(entry, Analysis):
            found[entry.name] = entry
    return dict(sorted(found.items()))


class _Registry(Mapping[str, Analysis]):
    """Read-only view of the discovered analyses (found on first use)."""

    def __getitem__(self, name: str) -> Analysis:
        return _discover()[name]

    def __iter__(self):
        return iter(_discover())

    def __len__(self) -> int:
        return len(_discover())


ANALYSES: Mapping[str, Analysis] = _Registry()


def analysis(name: str) -> Analysis:
    """The entry of analysis ``name``; :class:`KeyError` naming the known ones if there is none."""
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"analysis {name!r} not in {sorted(ANALYSES)}") from None
