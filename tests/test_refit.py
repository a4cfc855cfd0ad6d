"""Refit of user-supplied histograms (analysis ``refit``) and the fit options (pruning, smoothing, symmetrisation).

The histograms are written here with uproot/hist in two naming conventions (CMS combine's
``{channel}/{sample}_{systematic}Up`` and a flat ``{sample}_{channel}_{variation}``); the
refit's best fit, HESSE errors and MINOS interval are compared with a pyhf model written
independently by hand (normsys + histosys as cabinetry's NormPlusShape splits a template
systematic) and with a profile-likelihood interval found by root finding on
``pyhf.infer.mle.fixed_poi_fit``.
"""

from __future__ import annotations

import logging

import hist
import numpy as np
import pyhf
import pytest
import uproot
from scipy.optimize import brentq

from sysaware.fit import fit_results, nuisance_names
from sysaware.refit.entries import RefitConfigError, refit_cabinetry_config, refit_input_files, split_patterns
from sysaware.stats.fit_options import apply_template_options, prune_workspace
from sysaware.stats.spec import ModelSpecError
from sysaware.stats.workspace_build import workspace_from_cabinetry_config

logging.getLogger("cabinetry").setLevel(logging.WARNING)

EDGES = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
SIG = {"sr": np.array([4.0, 10.0, 18.0, 9.0]), "cr": np.array([1.0, 2.0, 2.0, 1.0])}
BKG = {"sr": np.array([60.0, 45.0, 30.0, 20.0]), "cr": np.array([200.0, 150.0, 120.0, 90.0])}
JES_UP = {ch: BKG[ch] * np.array([1.00, 1.04, 1.08, 1.12]) for ch in BKG}  # a tilt plus a rate change
JES_DOWN = {ch: BKG[ch] * np.array([1.00, 0.97, 0.93, 0.90]) for ch in BKG}
TINY_UP = {ch: BKG[ch] * 1.001 for ch in BKG}  # 0.1%: pruned at a 0.5% threshold
TINY_DOWN = {ch: BKG[ch] * 0.999 for ch in BKG}
DATA = {"sr": np.array([66.0, 60.0, 44.0, 31.0]), "cr": np.array([205.0, 149.0, 127.0, 86.0])}
LUMI = 0.025


def _h(values: np.ndarray) -> hist.Hist:
    h = hist.Hist.new.Variable(EDGES).Weight()
    h[...] = np.stack([values, values], axis=-1)  # Poisson-like errors
    return h


def _objects(name) -> dict[str, hist.Hist]:
    """Every histogram, named by ``name(channel, sample, variation)`` (variation '' for nominal)."""
    out = {}
    for ch in ("sr", "cr"):
        out[name(ch, "sig", "")] = _h(SIG[ch])
        out[name(ch, "bkg", "")] = _h(BKG[ch])
        out[name(ch, "data_obs", "")] = _h(DATA[ch])
        for syst, up, down in (("jes", JES_UP, JES_DOWN), ("tiny", TINY_UP, TINY_DOWN)):
            out[name(ch, "bkg", f"{syst}Up")] = _h(up[ch])
            out[name(ch, "bkg", f"{syst}Down")] = _h(down[ch])
    return out


def _write(path, objects) -> None:
    with uproot.recreate(path) as f:
        for key, h in objects.items():
            f[key] = h


def _fit_entry(nominal: str, variation: str, *, stat_error: bool = False, tiny: bool = False) -> dict:
    systematics = [
        {"name": "lumi", "type": "normalization", "samples": ["sig", "bkg"], "up": LUMI, "down": -LUMI},
        {"name": "jes", "type": "shape", "samples": ["bkg"]},
    ]
    if tiny:
        systematics.append({"name": "tiny", "type": "shape", "samples": ["bkg"]})
    return {
        "nominal": nominal, "variation": variation, "channels": ["sr", "cr"], "data": "data_obs", "poi": "mu",
        "samples": [{"name": "sig", "stat_error": stat_error}, {"name": "bkg", "stat_error": stat_error}],
        "normfactors": [{"name": "mu", "samples": ["sig"], "nominal": 1.0, "bounds": [-5.0, 10.0]}],
        "systematics": systematics,
    }


def _combine_file(tmp_path):
    path = tmp_path / "shapes.root"
    _write(path, _objects(lambda ch, s, v: f"{ch}/{s}_{v}" if v else f"{ch}/{s}"))
    return path


def _refit(tmp_path, entry, options=None):
    config = refit_cabinetry_config(entry, str(tmp_path / "histograms"))
    return workspace_from_cabinetry_config(config, tmp_path / "inputs", options)


def _hand_written_model() -> tuple[pyhf.pdf.Model, list[float]]:
    """The same model without cabinetry: NormPlusShape = normsys (rate) + histosys (shape at fixed rate)."""
    channels = []
    for ch in ("sr", "cr"):
        nom = BKG[ch]
        hi_norm, lo_norm = JES_UP[ch].sum() / nom.sum(), JES_DOWN[ch].sum() / nom.sum()
        lumi = {"name": "lumi", "type": "normsys", "data": {"hi": 1 + LUMI, "lo": 1 - LUMI}}
        channels.append({"name": ch, "samples": [
            {"name": "sig", "data": SIG[ch].tolist(),
             "modifiers": [{"name": "mu", "type": "normfactor", "data": None}, lumi]},
            {"name": "bkg", "data": nom.tolist(), "modifiers": [
                lumi,
                {"name": "jes", "type": "normsys", "data": {"hi": hi_norm, "lo": lo_norm}},
                {"name": "jes", "type": "histosys", "data": {"hi_data": (JES_UP[ch] / hi_norm).tolist(),
                                                            "lo_data": (JES_DOWN[ch] / lo_norm).tolist()}},
            ]},
        ]})
    spec = {"channels": channels,
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": [
                {"name": "mu", "inits": [1.0], "bounds": [[-5.0, 10.0]]}]}}],
            "observations": [{"name": ch, "data": DATA[ch].tolist()} for ch in ("sr", "cr")],
            "version": "1.0.0"}
    ws = pyhf.Workspace(spec)
    model = ws.model(modifier_settings={"normsys": {"interpcode": "code4"}, "histosys": {"interpcode": "code4p"}})
    return model, ws.data(model)


# ------------------------------------------------------------------------------ patterns


@pytest.mark.parametrize(
    ("nominal", "variation", "expected"),
    [
        ("s.root:{channel}/{sample}", "s.root:{channel}/{sample}_{systematic}{direction}",
         ("s.root:{RegionPath}/{SamplePath}{VariationPath}", "", "_{systematic}{direction}")),
        ("h.root:{sample}_{channel}_nominal", "h.root:{sample}_{channel}_{systematic}_{direction}",
         ("h.root:{SamplePath}_{RegionPath}_{VariationPath}", "nominal", "{systematic}_{direction}")),
        ("{channel}.root:{sample}", "{channel}.root:{sample}__{systematic}{direction}",
         ("{RegionPath}.root:{SamplePath}{VariationPath}", "", "__{systematic}{direction}")),
    ],
)
def test_patterns_map_onto_cabinetry_paths(nominal, variation, expected):
    assert split_patterns(nominal, variation) == expected


@pytest.mark.parametrize(
    ("nominal", "variation", "match"),
    [
        ("s.root:{channel}/{sample}", "s.root:{channel}/{sample}_{syst}Up", "unknown placeholder '{syst}'"),
        ("s.root:{channel}/{sample}", "s.root:{channel}/{sample}_Up", "lacks {systematic}"),
        ("s.root:{channel}/{sample}", "s.root:{systematic}/{channel}/{sample}{direction}", "differ around"),
        ("s.root:{sample}_{systematic}", "s.root:{sample}_{systematic}{direction}", "must not contain"),
        ("{channel}/{sample}", "{channel}/{sample}_{systematic}{direction}", "must name a ROOT file"),
    ],
)
def test_bad_patterns_are_named(nominal, variation, match):
    with pytest.raises(RefitConfigError, match=match):
        split_patterns(nominal, variation)


def test_config_errors_name_the_culprit():
    entry = _fit_entry("s.root:{channel}/{sample}", "s.root:{channel}/{sample}_{systematic}{direction}")
    with pytest.raises(RefitConfigError, match="unknown samples \\['ttbar'\\]"):
        refit_cabinetry_config(entry | {"systematics": [{"name": "x", "type": "shape", "samples": ["ttbar"]}]}, "h")
    with pytest.raises(RefitConfigError, match="POI 'xsec'"):
        refit_cabinetry_config(entry | {"poi": "xsec"}, "h")


def test_input_files_follow_the_file_part_of_the_patterns():
    entry = _fit_entry("in/{channel}.root:{sample}", "in/{channel}_syst.root:{sample}_{systematic}{direction}")
    assert refit_input_files(entry) == ["in/cr.root", "in/cr_syst.root", "in/sr.root", "in/sr_syst.root"]
    remote = _fit_entry("root://eos.cern.ch//a.root:{channel}/{sample}",
                        "root://eos.cern.ch//a.root:{channel}/{sample}_{systematic}{direction}")
    assert refit_input_files(remote) == []


# ------------------------------------------------------------------------------ refit = hand-written pyhf


def test_refit_equals_a_hand_written_pyhf_model(tmp_path):
    path = _combine_file(tmp_path)
    entry = _fit_entry(f"{path}:{{channel}}/{{sample}}", f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}")
    ws, pruning = _refit(tmp_path, entry)
    assert pruning["modifiers"] and not any(r["pruned"] for r in pruning["modifiers"])
    res = fit_results(ws)

    model, data = _hand_written_model()
    ours_model = pyhf.Workspace(ws).model()
    assert sorted(ours_model.config.par_names) == sorted(model.config.par_names)
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    best, unc = pyhf.infer.mle.fit(data, model, return_uncertainties=True).T
    for label, value, error in zip(model.config.par_names, best, unc):
        i = res["labels"].index(label)
        assert res["bestfit_all"][i] == pytest.approx(value, abs=2e-3)
        assert res["uncertainty_all"][i] == pytest.approx(error, rel=5e-3)

    # the MINOS interval is where the profile likelihood rises by 1 (root finding, no Minuit MINOS)
    poi = model.config.poi_index
    nll_min = float(pyhf.infer.mle.fit(data, model, return_fitted_val=True)[1])

    def rise(mu: float) -> float:
        return float(pyhf.infer.mle.fixed_poi_fit(mu, data, model, return_fitted_val=True)[1]) - nll_min - 1.0

    hat = float(best[poi])
    lo = brentq(rise, hat - 5 * unc[poi], hat, xtol=1e-5)
    hi = brentq(rise, hat, hat + 5 * unc[poi], xtol=1e-5)
    assert res["bestfit"] + res["minos"][0] == pytest.approx(lo, abs=3e-3)
    assert res["bestfit"] + res["minos"][1] == pytest.approx(hi, abs=3e-3)


def test_naming_conventions_give_the_same_fit(tmp_path):
    combine = _combine_file(tmp_path)
    flat = tmp_path / "flat.root"
    _write(flat, _objects(lambda ch, s, v: f"{s}_{ch}_{v or 'nominal'}"))
    ws_a, _ = _refit(tmp_path / "a", _fit_entry(
        f"{combine}:{{channel}}/{{sample}}", f"{combine}:{{channel}}/{{sample}}_{{systematic}}{{direction}}",
        stat_error=True))
    ws_b, _ = _refit(tmp_path / "b", _fit_entry(
        f"{flat}:{{sample}}_{{channel}}_nominal", f"{flat}:{{sample}}_{{channel}}_{{systematic}}{{direction}}",
        stat_error=True))
    assert ws_a == ws_b
    # Barlow-Beeston-lite staterror from the histogram errors: one gamma per bin and channel
    assert sum(n.startswith("staterror_") for n in nuisance_names(ws_a)) == 8


def test_missing_histogram_is_named(tmp_path):
    path = _combine_file(tmp_path)
    entry = _fit_entry(f"{path}:{{channel}}/{{sample}}", f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}")
    entry["systematics"].append({"name": "pdf", "type": "shape", "samples": ["bkg"]})
    with pytest.raises(Exception, match="bkg_pdfUp"):
        _refit(tmp_path, entry)


# ------------------------------------------------------------------------------ fit options


def test_pruning_drops_negligible_modifiers_and_reports_every_one(tmp_path):
    path = _combine_file(tmp_path)
    entry = _fit_entry(f"{path}:{{channel}}/{{sample}}", f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}",
                       tiny=True)
    ws, report = _refit(tmp_path, entry, {"prune_threshold": 0.005})
    assert report["threshold"] == 0.005
    pruned = {(r["channel"], r["modifier"], r["type"]) for r in report["modifiers"] if r["pruned"]}
    assert pruned == {(ch, "tiny", t) for ch in ("sr", "cr") for t in ("normsys", "histosys")}
    tiny_norm = next(r for r in report["modifiers"] if r["modifier"] == "tiny" and r["type"] == "normsys")
    assert tiny_norm["max_relative_effect"] == pytest.approx(0.001, rel=1e-6)
    jes_shape = max(r["max_relative_effect"] for r in report["modifiers"] if r["modifier"] == "jes"
                    and r["type"] == "histosys")
    assert jes_shape > 0.005
    assert report["pruned_parameters"] == ["tiny"]
    assert "tiny" not in pyhf.Workspace(ws).model().config.par_names
    # the pruned fit equals the fit of the model that never had the systematic
    ws_without, _ = _refit(tmp_path / "without", _fit_entry(
        f"{path}:{{channel}}/{{sample}}", f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}"))
    assert fit_results(ws)["minos"] == pytest.approx(fit_results(ws_without)["minos"], abs=1e-3)


def test_prune_threshold_zero_keeps_everything():
    ws = {"channels": [{"name": "c", "samples": [{"name": "s", "data": [1.0], "modifiers": [
        {"name": "n", "type": "normsys", "data": {"hi": 1.0, "lo": 1.0}}]}]}],
        "measurements": [{"name": "m", "config": {"poi": "n", "parameters": []}}]}
    out, report = prune_workspace(ws, 0.0)
    assert out == ws and not report["modifiers"][0]["pruned"]
    with pytest.raises(ModelSpecError, match="prune_threshold"):
        prune_workspace(ws, -1.0)


def test_symmetrize_mirrors_a_one_sided_variation(tmp_path):
    path = tmp_path / "one_sided.root"
    objects = _objects(lambda ch, s, v: f"{ch}/{s}_{v}" if v else f"{ch}/{s}")
    _write(path, {k: h for k, h in objects.items() if not k.endswith("Down")})
    entry = _fit_entry(f"{path}:{{channel}}/{{sample}}", f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}")
    ws, _ = _refit(tmp_path, entry, {"symmetrize": ["jes"]})
    bkg = next(s for s in next(c for c in ws["channels"] if c["name"] == "sr")["samples"] if s["name"] == "bkg")
    norm = next(m for m in bkg["modifiers"] if m["name"] == "jes" and m["type"] == "normsys")["data"]
    shape = next(m for m in bkg["modifiers"] if m["name"] == "jes" and m["type"] == "histosys")["data"]
    rate = JES_UP["sr"].sum() / BKG["sr"].sum()
    assert norm["hi"] == pytest.approx(rate) and norm["lo"] == pytest.approx(2.0 - rate)
    # the shape part mirrors around the nominal
    assert np.asarray(shape["lo_data"]) == pytest.approx(2 * BKG["sr"] - np.asarray(shape["hi_data"]))


def test_smoothing_keeps_the_yield_and_removes_a_spike(tmp_path):
    edges = np.linspace(0.0, 1.0, 11)
    nom = np.full(10, 100.0)
    up = nom * (1.0 + np.linspace(0.0, 0.09, 10))
    up[5] *= 1.3  # a statistical spike in one bin
    path = tmp_path / "spiky.root"
    with uproot.recreate(path) as f:
        for key, values in {"c/s": nom, "c/s_jesUp": up, "c/s_jesDown": 2 * nom - up, "c/data_obs": nom}.items():
            h = hist.Hist.new.Variable(edges).Weight()
            h[...] = np.stack([values, values], axis=-1)
            f[key] = h
    entry = {"nominal": f"{path}:{{channel}}/{{sample}}", "variation": f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}",
             "channels": ["c"], "data": "data_obs", "poi": "mu", "samples": [{"name": "s", "stat_error": False}],
             "normfactors": [{"name": "mu", "samples": ["s"]}],
             "systematics": [{"name": "jes", "type": "shape", "samples": ["s"]}]}
    ws, _ = _refit(tmp_path, entry, {"smoothing": ["jes"]})
    mods = ws["channels"][0]["samples"][0]["modifiers"]
    hi_rate = next(m for m in mods if m["type"] == "normsys")["data"]["hi"]
    hi_shape = np.asarray(next(m for m in mods if m["type"] == "histosys")["data"]["hi_data"])
    assert hi_rate == pytest.approx(up.sum() / nom.sum())  # 353QH keeps the variation's total
    smoothed = hi_shape * hi_rate
    assert abs(smoothed[5] / nom[5] - 1.0) < 0.5 * abs(up[5] / nom[5] - 1.0)


def test_options_name_unknown_or_normalisation_systematics():
    config = {"Systematics": [{"Name": "lumi", "Type": "Normalization"}, {"Name": "jes", "Type": "NormPlusShape"}]}
    with pytest.raises(ModelSpecError, match="no systematic 'jer'"):
        apply_template_options(config, smoothing=["jer"])
    with pytest.raises(ModelSpecError, match="'lumi' is a Normalization"):
        apply_template_options(config, symmetrize=["lumi"])
    out = apply_template_options(config, smoothing=["jes"], symmetrize=["jes"])
    assert out["Systematics"][1]["Smoothing"] == {"Algorithm": "353QH, twice"}
    assert "Smoothing" not in config["Systematics"][1]  # the input is left alone
