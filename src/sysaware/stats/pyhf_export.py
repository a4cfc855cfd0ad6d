"""The same model as :mod:`sysaware.stats.torch_model`, written as a pyhf workspace or a cabinetry config."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyhf

from .spec import ModelSpec, ModelSpecError, Templates
from .torch_model import DEFAULT_INIT, split_norm_and_shape

MEASUREMENT = "measurement"
CABINETRY_CODES = ("code4", "code4p")  # (normsys, histosys) codes of cabinetry's models


def _np(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)


def _require_constrained(spec: ModelSpec, what: str) -> None:
    free = [m.name for m in spec.modifiers if m.type != "normfactor" and not m.constrained]
    if free:
        raise ModelSpecError(
            f"{what}: HistFactory has no unconstrained {free} nuisance; "
            "use constrained: true or evaluate with the torch model"
        )


def modifier_settings(spec: ModelSpec) -> dict[str, dict[str, str]]:
    """pyhf ``modifier_settings`` carrying the spec's interpolation codes."""
    return {
        "normsys": {"interpcode": spec.normsys_code},
        "histosys": {"interpcode": spec.histosys_code},
    }


def _sample_modifiers(spec: ModelSpec, tpl: Templates, sample: str) -> list[dict[str, Any]]:
    mods: list[dict[str, Any]] = []
    nom = _np(tpl.nominal[sample])
    for mod in spec.modifiers:
        if sample not in mod.samples:
            continue
        if mod.type == "normfactor":
            mods.append({"name": mod.name, "type": "normfactor", "data": None})
        elif mod.type == "normsys":
            lo, hi = mod.lohi[sample]
            mods.append({"name": mod.name, "type": "normsys", "data": {"hi": hi, "lo": lo}})
        else:
            up, down = _np(tpl.up[mod.name][sample]), _np(tpl.down[mod.name][sample])
            if mod.type == "normplusshape":
                lo, hi, up, down = split_norm_and_shape(nom, up, down)
                mods.append(
                    {"name": mod.name, "type": "normsys", "data": {"hi": float(hi), "lo": float(lo)}}
                )
            mods.append(
                {
                    "name": mod.name,
                    "type": "histosys",
                    "data": {"hi_data": up.tolist(), "lo_data": down.tolist()},
                }
            )
    if any(s.name == sample and s.staterror for s in spec.samples):
        mods.append(
            {
                "name": spec.staterror_name,
                "type": "staterror",
                "data": np.sqrt(_np(tpl.sumw2[sample])).tolist(),
            }
        )
    return mods


def measurement_parameters(spec: ModelSpec) -> list[dict[str, Any]]:
    """pyhf measurement-config entries for inits, bounds and fixed flags."""
    params = []
    for mod in spec.modifiers:
        entry: dict[str, Any] = {"name": mod.name}
        if mod.init is not None:
            entry["inits"] = [float(mod.init)]
        if mod.bounds is not None:
            entry["bounds"] = [list(mod.bounds)]
        if mod.fixed:
            entry["fixed"] = True
        if len(entry) > 1:
            params.append(entry)
    return params


def to_workspace_spec(
    spec: ModelSpec, tpl: Templates, observed: Sequence[float] | None = None
) -> dict[str, Any]:
    """pyhf workspace JSON for ``spec`` filled with ``tpl``; observations default to the nominal sum."""
    _require_constrained(spec, "pyhf export")
    tpl.check(spec)
    samples = [
        {"name": s, "data": _np(tpl.nominal[s]).tolist(), "modifiers": _sample_modifiers(spec, tpl, s)}
        for s in spec.sample_names
    ]
    obs = (
        np.sum([_np(tpl.nominal[s]) for s in spec.sample_names], axis=0)
        if observed is None
        else _np(observed)
    )
    return {
        "channels": [{"name": spec.channel, "samples": samples}],
        "observations": [{"name": spec.channel, "data": obs.tolist()}],
        "measurements": [
            {
                "name": MEASUREMENT,
                "config": {"poi": spec.poi, "parameters": measurement_parameters(spec)},
            }
        ],
        "version": "1.0.0",
    }


def to_pyhf_model(spec: ModelSpec, tpl: Templates) -> pyhf.pdf.Model:
    """The pyhf model of ``spec`` with the spec's interpolation codes."""
    ws = pyhf.Workspace(to_workspace_spec(spec, tpl))
    return ws.model(modifier_settings=modifier_settings(spec))


def to_cabinetry_config(
    spec: ModelSpec,
    input_path: str,
    histogram_folder: str,
    data_sample: str = "data",
) -> dict[str, Any]:
    """cabinetry config for histogram inputs named ``{RegionPath}/{SamplePath}{VariationPath}``.

    ``input_path`` is the ROOT file, e.g. ``templates.root``; histograms are expected as
    ``<channel>/<sample>`` (nominal) and ``<channel>/<sample>_<systematic>Up|Down``.
    ``normsys`` become ``Normalization`` systematics, ``normplusshape`` become
    ``NormPlusShape``; pure ``histosys`` has no cabinetry equivalent and is refused.
    """
    _require_constrained(spec, "cabinetry export")
    if (spec.normsys_code, spec.histosys_code) != CABINETRY_CODES:
        raise ModelSpecError(
            f"cabinetry export: interpolation codes {spec.normsys_code}/{spec.histosys_code} "
            f"differ from {CABINETRY_CODES[0]}/{CABINETRY_CODES[1]}, which cabinetry's "
            "model_utils.model_and_data (and so its fits) always uses"
        )
    if any(c.isspace() for c in spec.channel):
        raise ModelSpecError(
            f"cabinetry export: channel {spec.channel!r} contains whitespace; cabinetry "
            f"would name its staterror 'staterror_{spec.channel.replace(' ', '-')}', "
            f"not {spec.staterror_name!r}"
        )
    pure_shape = [m.name for m in spec.modifiers_of("histosys")]
    if pure_shape:
        raise ModelSpecError(
            f"cabinetry export: histosys {pure_shape} has no cabinetry type; "
            "use normplusshape (cabinetry's NormPlusShape) for template systematics"
        )
    general: dict[str, Any] = {
        "Measurement": MEASUREMENT,
        "POI": spec.poi,
        "InputPath": f"{input_path}:{{RegionPath}}/{{SamplePath}}{{VariationPath}}",
        "HistogramFolder": histogram_folder,
        "VariationPath": "",
    }
    fixed = [
        {"Name": m.name, "Value": float(DEFAULT_INIT[m.type] if m.init is None else m.init)}
        for m in spec.modifiers
        if m.fixed
    ]
    if fixed:
        general["Fixed"] = fixed
    samples: list[dict[str, Any]] = [
        {"Name": s.name, "SamplePath": s.name, "DisableStaterror": not s.staterror}
        for s in spec.samples
    ]
    samples.append({"Name": data_sample, "SamplePath": data_sample, "Data": True})
    normfactors = []
    for m in spec.modifiers_of("normfactor"):
        nf: dict[str, Any] = {"Name": m.name, "Samples": list(m.samples)}
        if m.init is not None:
            nf["Nominal"] = float(m.init)
        if m.bounds is not None:
            nf["Bounds"] = list(m.bounds)
        normfactors.append(nf)
    systematics: list[dict[str, Any]] = []
    for m in spec.modifiers_of("normsys"):
        # a cabinetry Normalization has one (lo, hi) for all its samples: split per sample
        # when they differ, the parts sharing the modifier through ModifierName.  The first
        # part keeps the modifier's own name: cabinetry looks "Fixed" up by systematic Name.
        if len(set(m.lohi.values())) == 1:
            parts = [(list(m.samples), next(iter(m.lohi.values())))]
        else:
            parts = [([sample], lohi) for sample, lohi in m.lohi.items()]
        for k, (part_samples, (lo, hi)) in enumerate(parts):
            systematics.append(
                {
                    "Name": m.name if k == 0 else f"{m.name}_{part_samples[0]}",
                    "ModifierName": m.name,
                    "Type": "Normalization",
                    "Samples": part_samples,
                    "Up": {"Normalization": hi - 1.0},
                    "Down": {"Normalization": lo - 1.0},
                }
            )
    for m in spec.modifiers_of("normplusshape"):
        systematics.append(
            {
                "Name": m.name,
                "Type": "NormPlusShape",
                "Samples": list(m.samples),
                "Up": {"VariationPath": f"_{m.name}Up"},
                "Down": {"VariationPath": f"_{m.name}Down"},
            }
        )
    config: dict[str, Any] = {
        "General": general,
        "Regions": [{"Name": spec.channel, "RegionPath": spec.channel}],
        "Samples": samples,
        "NormFactors": normfactors,
    }
    if systematics:
        config["Systematics"] = systematics
    return config
