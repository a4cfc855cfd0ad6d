"""The statistical model of the ttbar -> tau+jets measurement, shared by the INFERNO loss and the fit.

One :class:`~sysaware.stats.ModelSpec` (DESIGN.md section 4), built from the ``cms`` config:

* the POI ``mu`` scales the ttbar -> tau_h + jets signal, as in the published study (the
  other ttbar decays are a background with the ttbar cross-section uncertainty);
* ``qcd_norm`` scales the QCD multijet sample, free within the published bounds 0.5-1.5;
* each entry of ``cms.norm_systematics`` is a Gaussian-constrained normalisation (code4
  normsys) on the samples it names (the published list: luminosity, tau ID and trigger,
  ttbar modelling, W/Z and single-top cross sections, QCD mistag);
* the limited size of the simulated (and data-driven) templates is one staterror gamma per bin;
* each shape systematic (``jes``, ``jer``, ``tes``: shifted objects, reselected; ``btag_bc``,
  ``btag_light``: event-weight variations) is a NormPlusShape on every simulated sample,
  as cabinetry splits a template systematic: its rate and its shape at fixed rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..stats import ModelSpec

CHANNEL = "taujets"
POI = "mu"
QCD = "qcd"
SIGNAL = "ttbar_taujets"
TTBAR_SAMPLES = (SIGNAL, "ttbar_other")
#: shape systematics: object-level (their own reselected events) and weight-level
OBJECT_SYSTEMATICS = ("jes", "jer", "tes")
WEIGHT_SYSTEMATICS = ("btag_bc", "btag_light")


def fit_samples(cfg: Mapping[str, Any]) -> list[str]:
    """Samples of the fit, in config order: ttbar split into tau+jets and other decays, and
    config samples sharing a ``fit_sample`` name (e.g. W+jets and Drell-Yan as ``vjets``) merged."""
    out: list[str] = []
    for s in cfg["cms"]["samples"]:
        if s["role"] == "data":
            continue
        names = TTBAR_SAMPLES if s.get("split_ttbar", False) else (s.get("fit_sample", s["name"]),)
        out.extend(n for n in names if n not in out)
    return out


def simulated_samples(cfg: Mapping[str, Any]) -> list[str]:
    """Fit samples that carry the shape systematics (everything but a data-driven QCD)."""
    driven = {s.get("fit_sample", s["name"]) for s in cfg["cms"]["samples"] if s["role"] == "data-driven"}
    return [s for s in fit_samples(cfg) if s not in driven]


def shape_systematics(cfg: Mapping[str, Any]) -> list[str]:
    """Enabled shape systematics, object-level first."""
    enabled = cfg["cms"]["shape_systematics"]
    return [s for s in (*OBJECT_SYSTEMATICS, *WEIGHT_SYSTEMATICS) if s in enabled]


def _norm_modifiers(norms: Mapping[str, Mapping[str, Any]], samples: Sequence[str]) -> list[dict[str, Any]]:
    mods = []
    for name, entry in norms.items():
        targets = [s for s in entry["samples"] if s in samples]
        if not targets:
            continue
        size = float(entry["size"])
        mods.append({"name": name, "type": "normsys",
                     "samples": {s: {"lo": 1.0 - size, "hi": 1.0 + size} for s in targets}})
    return mods


def cms_spec(cfg: Mapping[str, Any]) -> ModelSpec:
    """The HistFactory model of the measurement (see the module docstring)."""
    samples = fit_samples(cfg)
    mods: list[dict[str, Any]] = [
        {"name": POI, "type": "normfactor", "samples": [SIGNAL], "bounds": [0.0, 5.0]},
    ]
    if QCD in samples:
        lo, hi = cfg["cms"]["qcd_norm_bounds"]
        mods.append({"name": "qcd_norm", "type": "normfactor", "samples": [QCD], "bounds": [lo, hi]})
    mods += _norm_modifiers(cfg["cms"]["norm_systematics"], samples)
    simulated = simulated_samples(cfg)
    mods += [{"name": s, "type": "normplusshape", "samples": simulated} for s in shape_systematics(cfg)]
    return ModelSpec.from_config({
        "channel": CHANNEL,
        "poi": POI,
        # Barlow-Beeston-lite MC statistical uncertainty: one gamma per bin (cabinetry's staterror)
        "samples": [{"name": s, "staterror": True} for s in samples],
        "modifiers": mods,
    })
