"""Cross-references of a config that its JSON schema cannot express: the shared part.

The schema checks keys, types and ranges; the checks look at how entries refer to each other
(samples named by systematics, the samples a role needs, bounds that are ranges, binnings that
agree with the values they must hold).  Each analysis keeps the checks of its own section in its
package (``cms/config_checks.py``, ``higgsml/config_checks.py``, ``refit/config_checks.py``,
``benchmark/config_checks.py``), found through :mod:`sysaware.analyses`; this module holds the
helpers they share, the checks of ``fit.smoothing``/``fit.symmetrize`` (they name template
systematics of the analysis's fit model) and :func:`check_config`, which runs them all.  They run
when the Snakefile is parsed (before any job) and in :func:`sysaware.config.load_config`; each
failure is a :class:`ConfigError` whose message starts with the config key at fault.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .analyses import ANALYSES
from .errors import SysawareError

if TYPE_CHECKING:
    from .stats.spec import ModelSpec


class ConfigError(SysawareError, ValueError):
    """Config that does not satisfy the schema or its cross-references; the message names the key."""


def check_range(value: Sequence[float], key: str, holds: float | None = None,
                error: type[ConfigError] = ConfigError) -> None:
    """``value`` is ``[lo, hi]`` with ``lo < hi`` (and ``lo <= holds <= hi``); else ``error`` naming ``key``."""
    lo, hi = (float(v) for v in value)
    if not lo < hi:
        raise error(f"{key}: lower bound {lo:g} is not below the upper bound {hi:g}")
    if holds is not None and not lo <= holds <= hi:
        raise error(f"{key}: [{lo:g}, {hi:g}] does not contain {holds:g}")


def check_unique(names: Sequence[str], key: str, error: type[ConfigError] = ConfigError) -> None:
    """No name twice in ``names``; else ``error`` naming ``key`` and the repeated names."""
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise error(f"{key}: names {twice} appear more than once")


def check_known(names: Sequence[str], known: Sequence[str], key: str, what: str = "samples",
                error: type[ConfigError] = ConfigError) -> None:
    """Every one of ``names`` is in ``known``; else ``error`` naming ``key`` and the unknown ones."""
    unknown = [n for n in names if n not in known]
    if unknown:
        raise error(f"{key}: unknown {what} {unknown} (known: {list(known)})")


def check_split(split: Mapping[str, float], key: str) -> None:
    """``train + valid`` of a split leaves events for the templates; else :class:`ConfigError` naming ``key``."""
    total = float(split.get("train", 0.0)) + float(split.get("valid", 0.0))
    if not total < 1.0:
        raise ConfigError(f"{key}: train + valid = {total:g} leaves no events for the templates")


def modifier_types(spec: ModelSpec) -> dict[str, str]:
    """{modifier name: modifier type} of a fit model, as :func:`check_fit_options` reads it."""
    return {m.name: m.type for m in spec.modifiers}


#: what a fit model's modifier types are called in messages; template systematics can be smoothed/symmetrised
TEMPLATE = "template systematic"
MODIFIER_KINDS = {"normplusshape": TEMPLATE, "histosys": TEMPLATE, "shape": TEMPLATE,
                  "normsys": "normalisation systematic", "normalization": "normalisation systematic",
                  "normfactor": "normfactor"}


def check_fit_options(cfg: Mapping[str, Any], models: Mapping[str, Mapping[str, str]]) -> None:
    """``fit.smoothing`` and ``fit.symmetrize`` name template systematics of every one of ``models``.

    ``models``: the analysis's fit models, each as {modifier name: modifier type}, keyed by how a
    message names the model (:meth:`sysaware.analyses.Analysis.fit_model_modifiers`); empty for
    an analysis without a template fit.
    """
    for option in ("smoothing", "symmetrize"):
        names = cfg.get("fit", {}).get(option, [])
        if names and not models:
            raise ConfigError(f"fit.{option}: analysis {cfg['analysis']} has no template fit whose "
                              f"systematics could be smoothed or symmetrised (got {list(names)})")
        for where, modifiers in models.items():
            templates = [n for n, t in modifiers.items() if MODIFIER_KINDS[t] == TEMPLATE]
            for name in names:
                if name in templates:
                    continue
                if name in modifiers:
                    raise ConfigError(f"fit.{option}: {name!r} is a {MODIFIER_KINDS[modifiers[name]]} of {where}; "
                                      f"only template systematics can be smoothed or symmetrised "
                                      f"(template systematics: {templates})")
                raise ConfigError(f"fit.{option}: {name!r} is not a template systematic of {where} "
                                  f"(template systematics: {templates})")


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key when entries of a schema-valid ``cfg`` disagree.

    The analysis's own checks, then those of the fit options against its fit models; only the
    configured analysis's modules are imported (:mod:`sysaware.analyses`).
    """
    name = cfg["analysis"]
    if name not in ANALYSES:
        raise ConfigError(f"analysis: {name!r} not in {sorted(ANALYSES)}")
    entry = ANALYSES[name]
    entry.check_config(cfg)
    fit = cfg.get("fit", {})
    if fit.get("smoothing") or fit.get("symmetrize"):  # nothing named: no fit model needs building
        check_fit_options(cfg, entry.fit_model_modifiers(cfg))
