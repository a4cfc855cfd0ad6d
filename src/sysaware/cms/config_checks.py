"""Cross-references of the ``cms`` section, checked when the config is read (before any job).

Samples and the roles they need (one data sample, a signal), generated processes the generator
produces, samples merged into one fit sample only with samples of the same role, the fit
samples the normalisation systematics name, bounds, the split, the storage plugins of remote
inputs and the Dask options.  :func:`cms_fit_models` gives the fit model's systematics to the
shared checks of ``fit.smoothing``/``fit.symmetrize``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..config_checks import ConfigError, check_known, check_range, check_split, check_unique, modifier_types
from .ingestion.remote import RemoteInputError, rule_inputs
from .model import SIGNAL, TTBAR_SAMPLES, cms_spec, fit_samples


def check_cms_config(cfg: Mapping[str, Any]) -> None:
    """The ``cms`` section: samples and their roles, generated processes, systematics, bounds, split, inputs."""
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
    check_split(c["split"], "cms.split")
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
    try:
        for s in c["samples"]:
            rule_inputs(s.get("files", []), c.get("remote_inputs", "direct"))
    except RemoteInputError as err:
        raise ConfigError(str(err)) from err
    if c.get("executor", "iterative") == "dask":
        from .ingestion.distributed import DaskOptions  # coffea: only for cms.executor dask

        try:
            DaskOptions.from_config(c.get("dask", {}))
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err) if str(err).startswith("cms.dask") else f"cms.dask: {err}") from err


def cms_fit_models(cfg: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The CMS fit model's modifiers, {modifier name: modifier type}, from its :class:`~sysaware.stats.ModelSpec`."""
    return {"the CMS fit model": modifier_types(cms_spec(cfg))}
