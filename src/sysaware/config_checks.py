"""Cross-references of a config that its JSON schema cannot express.

The schema checks keys, types and ranges; these checks look at how entries refer to each
other: samples named by systematics, the samples a role needs, samples merged into one fit
sample only with samples of the same role, bounds that are ranges, and binnings that agree
with the values they must hold; ``fit.smoothing``/``fit.symmetrize`` name template systematics
of the analysis's fit model.  They run when the Snakefile is parsed
(before any job) and in :func:`sysaware.config.load_config`; each failure is a
:class:`ConfigError` whose message starts with the config key at fault.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import SysawareError


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


def _split(split: Mapping[str, float], key: str) -> None:
    total = float(split.get("train", 0.0)) + float(split.get("valid", 0.0))
    if not total < 1.0:
        raise ConfigError(f"{key}: train + valid = {total:g} leaves no events for the templates")


def _check_cms(cfg: Mapping[str, Any]) -> None:
    from .cms.model import fit_samples

    c = cfg["cms"]
    samples = c["samples"]
    check_unique([s["name"] for s in samples], "cms.samples")
    roles = Counter(s["role"] for s in samples)
    if roles["data"] != 1:
        raise ConfigError(f"cms.samples: exactly one sample needs role 'data' (found {roles['data']})")
    if roles["signal"] < 1:
        raise ConfigError("cms.samples: no sample has role 'signal'")
    produced = c["generator"]["n_events"]
    for i, s in enumerate(samples):
        gen = s.get("generated")
        if gen is not None and (gen == "data") != (s["role"] == "data"):
            raise ConfigError(f"cms.samples[{i}] ({s['name']!r}): generated {gen!r} does not fit role {s['role']!r}")
        if gen not in (None, "data") and gen not in produced:
            raise ConfigError(f"cms.samples[{i}] ({s['name']!r}): generated process {gen!r} has no "
                              f"cms.generator.n_events entry (has {sorted(produced)})")
        if s["role"] in ("signal", "background") and "xsec_pb" not in s:
            raise ConfigError(f"cms.samples[{i}] ({s['name']!r}): simulated samples need xsec_pb")
    if sum(bool(s.get("split_ttbar")) for s in samples) > 1:
        raise ConfigError("cms.samples: split_ttbar may be set on one sample only")
    _check_fit_sample_roles(samples)
    known = fit_samples(cfg)
    for name, entry in c["norm_systematics"].items():
        check_known(entry["samples"], known, f"cms.norm_systematics.{name}.samples", "fit samples")
    check_range(c["qcd_norm_bounds"], "cms.qcd_norm_bounds", holds=1.0)
    _split(c["split"], "cms.split")
    _check_cms_inputs(c)


_MERGED_INTO = {
    "signal": "mu would scale it too",
    "data-driven": "a data-driven template would be mixed with simulation (and gain or lose the shape systematics)",
}


def _check_fit_sample_roles(samples: Sequence[Mapping[str, Any]]) -> None:
    """Samples that share a fit sample must have one role.

    A fit sample is made by ``fit_sample`` (default the name) or, for the ``split_ttbar``
    sample, its ``ttbar_taujets`` (signal: what mu scales) and ``ttbar_other`` (background)
    parts.  A background merged into the signal would be scaled by mu, simulation merged into a
    data-driven template (or the reverse) is wrong too, and nothing may be merged into the data
    (a sample named like them, or the data's own ``fit_sample`` naming another fit sample).
    """
    from .cms.model import SIGNAL, TTBAR_SAMPLES

    owner: dict[str, tuple[str, int]] = {}  # fit sample -> (its role, the cms.samples index that made it)
    for i, s in enumerate(samples):  # what the data and the split ttbar sample make cannot move
        if s["role"] == "data":
            owner.setdefault(s["name"], ("data", i))
        elif s.get("split_ttbar", False):
            if s["role"] != "signal":
                raise ConfigError(f"cms.samples[{i}] ({s['name']!r}).split_ttbar: only the signal sample is split "
                                  f"(its {SIGNAL} part is what mu scales); this sample's role is {s['role']!r}")
            owner.setdefault(SIGNAL, ("signal", i))
            owner.setdefault(TTBAR_SAMPLES[1], ("background", i))
    # then the samples that are their own fit sample, then those that join one (fit_sample): the
    # sample at fault is the one that joins
    joining = sorted((i for i, s in enumerate(samples) if s["role"] != "data" and not s.get("split_ttbar", False)),
                     key=lambda i: "fit_sample" in samples[i])
    for i in joining:
        s = samples[i]
        key = "fit_sample" if "fit_sample" in s else "name"
        fit = s.get("fit_sample", s["name"])
        role, j = owner.setdefault(fit, (s["role"], i))
        if role != s["role"]:
            how = f"cms.samples[{j}] ({samples[j]['name']!r})"
            if samples[j].get("split_ttbar", False):
                how += ", made by its split_ttbar"
            why = ("it would be fitted as (part of) the observed data" if role == "data"
                   else _MERGED_INTO.get(role) or _MERGED_INTO.get(s["role"]) or "one fit sample has one role")
            raise ConfigError(f"cms.samples[{i}] ({s['name']!r}).{key}: {fit!r} is the {role} fit sample of {how}; "
                              f"the {s['role']} sample {s['name']!r} cannot be merged into it ({why}). "
                              "Give it a fit sample of its own")
    for i, s in enumerate(samples):
        fit = s.get("fit_sample", s["name"])
        if s["role"] == "data" and fit != s["name"] and fit in owner:
            role, j = owner[fit]
            raise ConfigError(f"cms.samples[{i}] ({s['name']!r}).fit_sample: {fit!r} is the {role} fit sample of "
                              f"cms.samples[{j}] ({samples[j]['name']!r}); the data are not merged into a fit sample")


def _check_cms_inputs(c: Mapping[str, Any]) -> None:
    """cms.remote_inputs stage: a storage plugin for every URL; cms.executor dask: valid cms.dask."""
    from .cms.remote import RemoteInputError, rule_inputs

    try:
        for s in c["samples"]:
            rule_inputs(s.get("files", []), c.get("remote_inputs", "direct"))
    except RemoteInputError as err:
        raise ConfigError(str(err)) from err
    if c.get("executor", "iterative") == "dask":
        from .cms.distributed import DaskOptions

        try:
            DaskOptions.from_config(c.get("dask", {}))
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err) if str(err).startswith("cms.dask") else f"cms.dask: {err}") from err


def _check_higgsml(cfg: Mapping[str, Any]) -> None:
    from .higgsml.evaluate import z_grid

    h = cfg["higgsml"]
    names = [s["name"] for s in h["samples"]]
    check_unique(names, "higgsml.samples")
    if not any(s["role"] == "signal" for s in h["samples"]):
        raise ConfigError("higgsml.samples: no sample has role 'signal'")
    for i, s in enumerate(h["samples"]):
        if ("label" in s) == ("detailed_label" in s):
            raise ConfigError(f"higgsml.samples[{i}] ({s['name']!r}): give exactly one of label, detailed_label")
    for name, entry in h["norm_systematics"].items():
        check_known(entry["samples"], names, f"higgsml.norm_systematics.{name}.samples")
    tes = h["tes"]
    try:
        z_grid(tes)
    except ValueError as err:
        raise ConfigError(f"higgsml.tes.grid: {err}") from err
    check_range(tes["train_range"], "higgsml.tes.train_range", holds=0.0)
    check_range(h["mu_bounds"], "higgsml.mu_bounds", holds=float(h["truth_mu"]))
    _split(h["split"], "higgsml.split")


def _check_refit(cfg: Mapping[str, Any]) -> None:
    from .refit import check_refit_entry

    for name, fit in cfg["refit"]["fits"].items():
        check_refit_entry(fit, f"refit.fits.{name}")


def _check_benchmark(cfg: Mapping[str, Any]) -> None:
    """Nothing refers across sections in the benchmark beyond what the schema checks."""


#: what a fit model's modifier types are called in messages; template systematics can be smoothed/symmetrised
TEMPLATE = "template systematic"
MODIFIER_KINDS = {"normplusshape": TEMPLATE, "histosys": TEMPLATE, "shape": TEMPLATE,
                  "normsys": "normalisation systematic", "normalization": "normalisation systematic",
                  "normfactor": "normfactor"}


def fit_models(cfg: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The fit models of the configured analysis, each as {modifier name: modifier type}, keyed by
    how a message names the model.  The refit reads them from its entries, the benchmark and the
    CMS analysis from their :class:`~sysaware.stats.ModelSpec` (no torch, no pyhf imported);
    HiggsML has no template fit (its profile rebuilds templates on a grid): no model."""
    analysis = cfg["analysis"]
    if analysis == "refit":
        return {f"refit.fits.{name}": {**{nf["name"]: "normfactor" for nf in fit["normfactors"]},
                                       **{sy["name"]: sy["type"] for sy in fit.get("systematics", [])}}
                for name, fit in cfg["refit"]["fits"].items()}
    if analysis == "inferno_benchmark":
        from .benchmark.model import fit_spec

        spec, where = fit_spec(), "the benchmark fit model"
    elif analysis == "cms_ttbar_taujets":
        from .cms.model import cms_spec

        spec, where = cms_spec(cfg), "the CMS fit model"
    else:
        return {}
    return {where: {m.name: m.type for m in spec.modifiers}}


def _check_fit_options(cfg: Mapping[str, Any]) -> None:
    """``fit.smoothing`` and ``fit.symmetrize`` name template systematics of every fit model."""
    fit = cfg.get("fit", {})
    if not (fit.get("smoothing") or fit.get("symmetrize")):
        return  # nothing named: no fit model needs building
    models = fit_models(cfg)
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


CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "cms_ttbar_taujets": _check_cms,
    "higgsml_tes": _check_higgsml,
    "refit": _check_refit,
    "inferno_benchmark": _check_benchmark,
}


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key when entries of a schema-valid ``cfg`` disagree."""
    analysis = cfg["analysis"]
    if analysis not in CHECKS:
        raise ConfigError(f"analysis: {analysis!r} not in {sorted(CHECKS)}")
    CHECKS[analysis](cfg)
    _check_fit_options(cfg)
