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
parameters come from the config; :func:`refit_cabinetry_config` writes them in cabinetry's
terms, which cabinetry then validates against its own schema.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from .stats.spec import ModelSpecError

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
KNOWN = ("channel", "sample", "systematic", "direction")
CABINETRY_NAMES = {"channel": "{RegionPath}", "sample": "{SamplePath}"}
MEASUREMENT = "refit"


class RefitConfigError(ModelSpecError):
    """The refit section cannot describe a fit (bad pattern, unknown sample...)."""


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
            the variation pattern lacks ``{systematic}``.
    """
    nom = _tokens(nominal, "refit nominal pattern")
    var = _tokens(variation, "refit variation pattern")
    for tok in ("{systematic}", "{direction}"):
        if tok in nom:
            raise RefitConfigError(f"refit nominal pattern {nominal!r} must not contain {tok}")
    if "{systematic}" not in var:
        raise RefitConfigError(f"refit variation pattern {variation!r} lacks {{systematic}}")
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


def _check_samples(names: list[str], known: set[str], where: str) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        raise RefitConfigError(f"{where}: unknown samples {unknown} (known: {sorted(known)})")


def refit_cabinetry_config(fit: Mapping[str, Any], histogram_folder: str) -> dict[str, Any]:
    """cabinetry config of one entry of ``refit.fits`` (schema: workflow/schemas/config.schema.yaml).

    Template systematics become ``NormPlusShape`` (their normalisation and shape parts as two
    modifiers sharing the systematic's name), normalisation ones ``Normalization`` with
    relative ``up``/``down``; entries sharing ``modifier`` are one nuisance parameter.
    """
    input_path, nominal_part, variation_part = split_patterns(fit["nominal"], fit["variation"])
    up_label, down_label = fit.get("directions", ["Up", "Down"])
    samples_cfg = list(fit["samples"])
    known = {s["name"] for s in samples_cfg}
    if fit["data"] in known:
        raise RefitConfigError(f"refit: data {fit['data']!r} is also listed as a sample")
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
    for nf in fit.get("normfactors", []):
        _check_samples(nf["samples"], known, f"refit normfactor {nf['name']!r}")
        entry: dict[str, Any] = {"Name": nf["name"], "Samples": list(nf["samples"])}
        if "nominal" in nf:
            entry["Nominal"] = float(nf["nominal"])
        if "bounds" in nf:
            entry["Bounds"] = [float(b) for b in nf["bounds"]]
        normfactors.append(entry)
    if fit["poi"] not in {nf["Name"] for nf in normfactors}:
        raise RefitConfigError(f"refit: POI {fit['poi']!r} is not one of the normfactors")
    systematics = []
    for sy in fit.get("systematics", []):
        _check_samples(sy["samples"], known, f"refit systematic {sy['name']!r}")
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


def refit_input_files(fit: Mapping[str, Any]) -> list[str]:
    """Local ROOT files the patterns of one refit entry name (remote URLs are left out)."""
    files: set[str] = set()
    names = [s.get("path", s["name"]) for s in fit["samples"]] + [fit["data"]]
    systs = [sy.get("path", sy["name"]) for sy in fit.get("systematics", []) if sy["type"] == "shape"]
    for pattern, combos in (
        (fit["nominal"], [(c, s, "", "") for c in fit["channels"] for s in names]),
        (fit["variation"], [(c, s, y, d) for c, s, y, d in itertools.product(
            fit["channels"], names, systs, fit.get("directions", ["Up", "Down"]))]),
    ):
        file_part = pattern[: pattern.rindex(".root:") + len(".root")] if ".root:" in pattern else pattern
        for c, s, y, d in combos:
            files.add(file_part.format(channel=c, sample=s, systematic=y, direction=d))
    return sorted(f for f in files if "://" not in f)
