"""Refit of histograms a user supplies (a published analysis's inputs): config -> cabinetry config.

No ingestion and no training: the histograms are read from ROOT files whose object names
follow two patterns given in the config, one for the nominal templates and one for the
systematic variations, e.g. the CMS combine convention::

    nominal:   shapes.root:{channel}/{sample}
    variation: shapes.root:{channel}/{sample}_{systematic}{direction}

or a flat one (``hists.root:{sample}_nominal`` / ``hists.root:{sample}_{systematic}{direction}``).
Placeholders: ``{channel}``, ``{sample}``, ``{systematic}``, ``{direction}`` (``Up``/``Down``
by default).  The two patterns must differ in one contiguous piece: that piece becomes
cabinetry's ``{VariationPath}``, ``{channel}`` its ``{RegionPath}`` and ``{sample}`` its
``{SamplePath}``, so cabinetry itself reads the files (``cabinetry.templates.collect``).
Samples, norm factors (with bounds), normalisation and template systematics and fixed
parameters come from the config; :func:`check_refit_entry` checks how they refer to each
other (run before any job by :mod:`sysaware.refit.config_checks`), :func:`refit_cabinetry_config`
writes them in cabinetry's terms, which cabinetry then validates against its own schema.
:func:`histogram_refs` lists every histogram an entry names; :mod:`sysaware.refit.inputs`
reads and checks them before anything is fitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config_checks import ConfigError, check_known, check_range, check_unique
from ..stats.spec import ModelSpecError

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
KNOWN = ("channel", "sample", "systematic", "direction")
CABINETRY_NAMES = {"channel": "{RegionPath}", "sample": "{SamplePath}"}
MEASUREMENT = "refit"
DIRECTIONS = ("Up", "Down")
#: pyhf's defaults: a normfactor starts at 1 within [0, 10] (also the schema's defaults);
#: a constrained nuisance parameter (normsys, histosys) lies within [-5, 5]
NORMFACTOR_NOMINAL = 1.0
NORMFACTOR_BOUNDS = (0.0, 10.0)
NUISANCE_BOUNDS = (-5.0, 5.0)


class RefitConfigError(ModelSpecError, ConfigError):
    """The refit section cannot describe a fit (bad pattern, unknown sample...); the message names the key."""


def _tokens(pattern: str, where: str) -> list[str]:
    """Characters and whole ``{placeholders}`` of a pattern, unknown placeholders refused."""
    out: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(pattern):
        if m.group(1) not in KNOWN:
            raise RefitConfigError(f"{where}: unknown placeholder {m.group(0)!r} (known: {', '.join(KNOWN)})")
        out.extend(pattern[pos:m.start()])
        out.append(m.group(0))
        pos = m.end()
    out.extend(pattern[pos:])
    return out


def split_patterns(nominal: str, variation: str) -> tuple[str, str, str]:
    """(cabinetry ``InputPath``, nominal ``VariationPath``, variation template) of two patterns.

    The variation template still holds ``{systematic}`` and ``{direction}``; format it per
    systematic and direction to get that template's ``VariationPath``.

    Raises:
        RefitConfigError: the patterns differ in more than one piece, the differing piece
            holds ``{channel}`` or ``{sample}``, the nominal pattern names a systematic, or
            the variation pattern lacks ``{systematic}`` or ``{direction}``.
    """
    nom = _tokens(nominal, "refit nominal pattern")
    var = _tokens(variation, "refit variation pattern")
    for tok in ("{systematic}", "{direction}"):
        if tok in nom:
            raise RefitConfigError(f"refit nominal pattern {nominal!r} must not contain {tok}")
    if "{systematic}" not in var:
        raise RefitConfigError(f"refit variation pattern {variation!r} lacks {{systematic}}")
    if "{direction}" not in var:
        raise RefitConfigError(f"refit variation pattern {variation!r} lacks {{direction}}: the up and the "
                               "down variation would be one histogram")
    pre = 0
    while pre < min(len(nom), len(var)) and nom[pre] == var[pre]:
        pre += 1
    suf = 0
    while suf < min(len(nom), len(var)) - pre and nom[-1 - suf] == var[-1 - suf]:
        suf += 1
    nom_mid, var_mid = nom[pre:len(nom) - suf], var[pre:len(var) - suf]
    for tok in ("{channel}", "{sample}"):
        if tok in nom_mid or tok in var_mid:
            raise RefitConfigError(
                f"refit patterns {nominal!r} and {variation!r} differ around {tok}: the variation "
                "part must be one piece made of {systematic}, {direction} and fixed text"
            )
    head = "".join(CABINETRY_NAMES.get(t[1:-1], t) if len(t) > 1 else t for t in nom[:pre])
    tail = "".join(CABINETRY_NAMES.get(t[1:-1], t) if len(t) > 1 else t for t in nom[len(nom) - suf:])
    if ".root:" not in head + "{VariationPath}" + tail:
        raise RefitConfigError(f"refit pattern {nominal!r} must name a ROOT file and an object: 'file.root:path'")
    return head + "{VariationPath}" + tail, "".join(nom_mid), "".join(var_mid)


def _bounds_text(bounds: Sequence[float]) -> str:
    return "[" + ", ".join(f"{float(b):g}" for b in bounds) + "]"


def parameter_bounds(fit: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Bounds of every parameter the entry's fit has a name for: its normfactors (their ``bounds``,
    else pyhf's [0, 10]) and the nuisance parameters of its systematics (pyhf's [-5, 5])."""
    out: dict[str, tuple[float, float]] = {}
    for nf in fit["normfactors"]:
        lo, hi = nf.get("bounds", NORMFACTOR_BOUNDS)
        out[nf["name"]] = (float(lo), float(hi))
    for sy in fit.get("systematics", []):
        out.setdefault(sy.get("modifier", sy["name"]), NUISANCE_BOUNDS)
    return out


def _check_normfactors(fit: Mapping[str, Any], key: str, samples: list[str]) -> None:
    for i, nf in enumerate(fit["normfactors"]):
        where = f"{key}.normfactors[{i}] ({nf['name']})"
        check_unique(nf["samples"], f"{where}.samples", error=RefitConfigError)
        check_known(nf["samples"], samples, f"{where}.samples", error=RefitConfigError)
        bounds = nf.get("bounds", NORMFACTOR_BOUNDS)
        check_range(bounds, f"{where}: bounds {_bounds_text(bounds)}", error=RefitConfigError)
        nominal = float(nf.get("nominal", NORMFACTOR_NOMINAL))
        if not float(bounds[0]) <= nominal <= float(bounds[1]):
            raise RefitConfigError(f"{where}: nominal {nominal:g} lies outside the bounds {_bounds_text(bounds)} "
                                   f"(defaults: nominal {NORMFACTOR_NOMINAL:g}, bounds "
                                   f"{_bounds_text(NORMFACTOR_BOUNDS)})")
    names = [nf["name"] for nf in fit["normfactors"]]
    check_unique(names, f"{key}.normfactors", error=RefitConfigError)
    if fit["poi"] not in names:
        raise RefitConfigError(f"{key}.poi: POI {fit['poi']!r} is not one of the normfactors {names}")


def _check_systematics(fit: Mapping[str, Any], key: str, samples: list[str]) -> None:
    systematics = fit.get("systematics", [])
    check_unique([sy["name"] for sy in systematics], f"{key}.systematics", error=RefitConfigError)
    normfactors = {nf["name"] for nf in fit["normfactors"]}
    acting: dict[tuple[str, str], str] = {}  # (modifier, sample) -> the entry that puts it there
    for i, sy in enumerate(systematics):
        where = f"{key}.systematics[{i}] ({sy['name']})"
        check_unique(sy["samples"], f"{where}.samples", error=RefitConfigError)
        check_known(sy["samples"], samples, f"{where}.samples", error=RefitConfigError)
        modifier = sy.get("modifier", sy["name"])
        if modifier in normfactors:
            raise RefitConfigError(f"{where}: parameter {modifier!r} is also a normfactor")
        for sample in sy["samples"]:
            if (modifier, sample) in acting:
                raise RefitConfigError(f"{where}: parameter {modifier!r} already acts on sample {sample!r} "
                                       f"through {acting[modifier, sample]}")
            acting[modifier, sample] = where


def _check_fixed(fit: Mapping[str, Any], key: str) -> None:
    fixed = fit.get("fixed", [])
    check_unique([p["name"] for p in fixed], f"{key}.fixed", error=RefitConfigError)
    bounds = parameter_bounds(fit)
    for i, p in enumerate(fixed):
        where = f"{key}.fixed[{i}] ({p['name']})"
        if p["name"] == fit["poi"]:
            raise RefitConfigError(f"{where}: the POI cannot be fixed (the fit measures it)")
        check_known([p["name"]], list(bounds), where, "parameter", error=RefitConfigError)
        lo, hi = bounds[p["name"]]
        if not lo <= float(p["value"]) <= hi:
            raise RefitConfigError(f"{where}: value {float(p['value']):g} lies outside the parameter's bounds "
                                   f"{_bounds_text((lo, hi))}")


def check_refit_entry(fit: Mapping[str, Any], key: str = "refit") -> None:
    """Raise :class:`RefitConfigError`, its message starting with the key at fault, when the parts of
    one entry of ``refit.fits`` (schema-valid) do not describe a fit.

    Checked: the patterns (:func:`split_patterns`); two distinct direction labels; unique names
    of channels, samples, normfactors, systematics and fixed parameters; data not a sample;
    samples named by normfactors and systematics known, each once, and no parameter twice on one
    sample; the POI a normfactor, no systematic named like a normfactor; normfactor bounds that
    are ranges and hold the nominal (pyhf's defaults where not given); fixed parameters known,
    not the POI, and within their bounds.
    """
    try:
        split_patterns(fit["nominal"], fit["variation"])
    except RefitConfigError as err:
        raise RefitConfigError(f"{key}: {err}") from err
    up, down = fit.get("directions", DIRECTIONS)
    if up == down:
        raise RefitConfigError(f"{key}.directions: the up and the down label are both {up!r}")
    check_unique(fit["channels"], f"{key}.channels", error=RefitConfigError)
    samples = [s["name"] for s in fit["samples"]]
    check_unique(samples, f"{key}.samples", error=RefitConfigError)
    if fit["data"] in samples:
        raise RefitConfigError(f"{key}.data: {fit['data']!r} is also listed in {key}.samples")
    _check_normfactors(fit, key, samples)
    _check_systematics(fit, key, samples)
    _check_fixed(fit, key)


def refit_cabinetry_config(fit: Mapping[str, Any], histogram_folder: str, key: str = "refit") -> dict[str, Any]:
    """cabinetry config of one entry of ``refit.fits`` (schema: src/sysaware/schemas/config.schema.yaml).

    The entry is checked first (:func:`check_refit_entry`, messages starting with ``key``).
    Template systematics become ``NormPlusShape`` (their normalisation and shape parts as two
    modifiers sharing the systematic's name), normalisation ones ``Normalization`` with
    relative ``up``/``down``; entries sharing ``modifier`` are one nuisance parameter.
    """
    check_refit_entry(fit, key)
    input_path, nominal_part, variation_part = split_patterns(fit["nominal"], fit["variation"])
    up_label, down_label = fit.get("directions", DIRECTIONS)
    samples_cfg = list(fit["samples"])
    general: dict[str, Any] = {
        "Measurement": MEASUREMENT,
        "POI": fit["poi"],
        "InputPath": input_path,
        "HistogramFolder": histogram_folder,
        "VariationPath": nominal_part,
    }
    if fit.get("fixed"):
        general["Fixed"] = [{"Name": p["name"], "Value": float(p["value"])} for p in fit["fixed"]]
    samples = [
        {"Name": s["name"], "SamplePath": s.get("path", s["name"]), "DisableStaterror": not s.get("stat_error", True)}
        for s in samples_cfg
    ]
    samples.append({"Name": fit["data"], "SamplePath": fit["data"], "Data": True})
    normfactors = []
    for nf in fit["normfactors"]:
        entry: dict[str, Any] = {"Name": nf["name"], "Samples": list(nf["samples"])}
        if "nominal" in nf:
            entry["Nominal"] = float(nf["nominal"])
        if "bounds" in nf:
            entry["Bounds"] = [float(b) for b in nf["bounds"]]
        normfactors.append(entry)
    systematics = []
    for sy in fit.get("systematics", []):
        entry = {"Name": sy["name"], "Samples": list(sy["samples"])}
        if "modifier" in sy:
            entry["ModifierName"] = sy["modifier"]
        if sy["type"] == "normalization":
            entry |= {"Type": "Normalization", "Up": {"Normalization": float(sy["up"])},
                      "Down": {"Normalization": float(sy["down"])}}
        else:
            path = sy.get("path", sy["name"])
            entry |= {"Type": "NormPlusShape",
                      "Up": {"VariationPath": variation_part.format(systematic=path, direction=up_label)},
                      "Down": {"VariationPath": variation_part.format(systematic=path, direction=down_label)}}
        systematics.append(entry)
    config: dict[str, Any] = {
        "General": general,
        "Regions": [{"Name": ch, "RegionPath": ch} for ch in fit["channels"]],
        "Samples": samples,
        "NormFactors": normfactors,
    }
    if systematics:
        config["Systematics"] = systematics
    return config


@dataclass(frozen=True)
class HistogramRef:
    """One histogram a refit entry names: what it is (``role``: nominal, data, up or down) and where it lies."""

    role: str
    channel: str
    sample: str
    systematic: str | None
    file: str
    path: str

    @property
    def location(self) -> str:
        """``file:path``, as cabinetry and uproot name it."""
        return f"{self.file}:{self.path}"

    def describe(self) -> str:
        """What the histogram is in the fit, e.g. "the jes up variation of sample 'bkg' in channel 'sr'"."""
        if self.role == "data":
            return f"the data of channel {self.channel!r}"
        what = "the nominal" if self.role == "nominal" else f"the {self.systematic} {self.role} variation"
        return f"{what} of sample {self.sample!r} in channel {self.channel!r}"


def split_location(location: str) -> tuple[str, str]:
    """(file, object path) of ``file.root:object/path``, split at the last ``.root:``."""
    if ".root:" not in location:
        return location, ""
    i = location.rindex(".root:") + len(".root")
    return location[:i], location[i + 1:]


def histogram_refs(fit: Mapping[str, Any], symmetrize: Iterable[str] = ()) -> list[HistogramRef]:
    """Every histogram cabinetry reads for one refit entry, channel by channel: the nominal of
    each sample, the data, then the up and down variation of each shape systematic for each
    sample it acts on (no down variation for the systematics in ``symmetrize``)."""
    up_label, down_label = fit.get("directions", DIRECTIONS)
    symmetrized = set(symmetrize)
    refs: list[HistogramRef] = []

    def add(role: str, channel: str, sample: str, path: str, systematic: str | None = None,
            syst_path: str = "", direction: str = "") -> None:
        pattern = fit["nominal"] if systematic is None else fit["variation"]
        where = pattern.format(channel=channel, sample=path, systematic=syst_path, direction=direction)
        refs.append(HistogramRef(role, channel, sample, systematic, *split_location(where)))

    for channel in fit["channels"]:
        for s in fit["samples"]:
            add("nominal", channel, s["name"], s.get("path", s["name"]))
        add("data", channel, fit["data"], fit["data"])
        for sy in fit.get("systematics", []):
            if sy["type"] != "shape":
                continue
            for name in sy["samples"]:
                s = next(x for x in fit["samples"] if x["name"] == name)
                sides = [("up", up_label)] + ([] if sy["name"] in symmetrized else [("down", down_label)])
                for role, label in sides:
                    add(role, channel, name, s.get("path", name), sy["name"], sy.get("path", sy["name"]), label)
    return refs


def refit_input_files(fit: Mapping[str, Any], symmetrize: Iterable[str] = ()) -> list[str]:
    """Local ROOT files the histograms of one refit entry lie in (remote URLs are left out)."""
    return sorted({ref.file for ref in histogram_refs(fit, symmetrize) if "://" not in ref.file})
