"""A refit (analysis ``refit``) of bad histograms or a bad config stops, naming the culprit.

Config cases go through :func:`sysaware.config.load_config` (some through ``snakemake -n``):
the message starts with the key at fault and no job runs.  Histogram cases go through
:func:`sysaware.refit.inputs.check_refit_histograms` in-process and through
``scripts/refit_workspace.py`` as the workspace job runs it: exit status 1, one ERROR line
naming the file, the object and the bin, nothing half-written.  ``negative_bins: zero`` fits
the histograms with the negative bin set to 0, exactly as if the file had held a 0.

The histograms are written here with uproot: two channels (sr, cr), a signal, a background
with a template systematic (jes) and data, in CMS combine's naming (``{channel}/{sample}``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot
import yaml

from helpers import REPO, assert_failed_cleanly, snakemake_env, with_value
from sysaware.config import ConfigError, load_config
from sysaware.refit.inputs import (CORRECTED_FILE, CORRECTIONS_FILE, RefitInputError, check_refit_histograms,
                                   refit_workspace)
from sysaware.stats.templates_io import weighted_hist

KEY = "refit.fits.published"
EDGES = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
NOMINAL = {"sr/sig": [4.0, 10.0, 18.0, 9.0], "sr/bkg": [60.0, 45.0, 30.0, 20.0],
           "cr/sig": [1.0, 2.0, 2.0, 1.0], "cr/bkg": [200.0, 150.0, 120.0, 90.0],
           "sr/data_obs": [66.0, 60.0, 44.0, 31.0], "cr/data_obs": [205.0, 149.0, 127.0, 86.0]}
JES = {"Up": np.array([1.00, 1.04, 1.08, 1.12]), "Down": np.array([1.00, 0.97, 0.93, 0.90])}
BKG_SR = "the nominal of sample 'bkg' in channel 'sr'"

logging.getLogger("cabinetry").setLevel(logging.WARNING)


def _good() -> dict[str, Any]:
    """Every histogram of the good input: object path -> (values, variances, edges)."""
    out: dict[str, Any] = {k: (np.array(v), np.array(v), EDGES) for k, v in NOMINAL.items()}
    for ch in ("sr", "cr"):
        for d, factor in JES.items():
            values = np.array(NOMINAL[f"{ch}/bkg"]) * factor
            out[f"{ch}/bkg_jes{d}"] = (values, values, EDGES)
    return out


def _write(path: Path, changes: Mapping[str, Any] | None = None) -> Path:
    """The good histograms with ``changes``: object -> values (variances |values|), (values, variances[, edges]),
    None (left out) or "tree" (a TTree instead of a histogram)."""
    objects = _good()
    for name, change in (changes or {}).items():
        if change is None:
            del objects[name]
        elif isinstance(change, str):
            objects[name] = change
        elif isinstance(change, tuple):
            objects[name] = (np.asarray(change[0], float), np.asarray(change[1], float),
                             np.asarray(change[2], float) if len(change) > 2 else EDGES)
        else:
            values = np.asarray(change, float)
            objects[name] = (values, np.abs(values), EDGES)
    with uproot.recreate(path) as f:
        for name, obj in objects.items():
            if isinstance(obj, str):
                f.mktree(name, {"x": np.float64}).extend({"x": np.arange(3.0)})
            elif len(obj[2]) == 1:  # no bins: hist cannot make one, uproot writes (values, edges) as it is
                f[name] = (obj[0], obj[2])
            else:
                f[name] = weighted_hist(obj[2], obj[0], obj[1])
    return path


def _entry(path: Path | str, **changes: Any) -> dict[str, Any]:
    return {
        "nominal": f"{path}:{{channel}}/{{sample}}",
        "variation": f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}",
        "channels": ["sr", "cr"], "data": "data_obs", "poi": "mu",
        "samples": [{"name": "sig", "stat_error": False}, {"name": "bkg", "stat_error": True}],
        "normfactors": [{"name": "mu", "samples": ["sig"], "nominal": 1.0, "bounds": [-5.0, 10.0]}],
        "systematics": [{"name": "lumi", "type": "normalization", "samples": ["sig", "bkg"], "up": 0.025,
                         "down": -0.025},
                        {"name": "jes", "type": "shape", "samples": ["bkg"]}],
    } | changes


def _config(entry: dict[str, Any]) -> dict[str, Any]:
    return {"analysis": "refit", "seed": 1, "results_dir": "results", "refit": {"fits": {"published": entry}}}


def _load(cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    path = folder / "refit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


# --------------------------------------------------------------------------- histogram cases

# case -> (changes to the good file, changes to the entry, message as a function of the file)
Case = tuple[Mapping[str, Any], Mapping[str, Any], Callable[[Path], str]]
HIST_CASES: dict[str, Case] = {
    "negative_background_bin": (
        {"sr/bkg": [60.0, -30.0, 30.0, 20.0]}, {},
        lambda p: f"{p}:sr/bkg: negative prediction in bin 2 of 4 [1, 2): -30 ({BKG_SR}); "
                  f"set {KEY}.negative_bins: zero to fit with such bins set to 0"),
    "negative_bin_in_variation_only": (
        {"sr/bkg_jesDown": [60.0, 45.0, -2.0, 18.0]}, {},
        lambda p: f"{p}:sr/bkg_jesDown: negative prediction in bin 3 of 4 [2, 3): -2 "
                  "(the jes down variation of sample 'bkg' in channel 'sr')"),
    "nan_bin": (
        {"sr/bkg": [60.0, 45.0, np.nan, 20.0]}, {},
        lambda p: f"{p}:sr/bkg: NaN or inf content in bin 3 of 4 [2, 3): nan ({BKG_SR})"),
    "inf_variance": (
        {"cr/sig": ([1.0, 2.0, 2.0, 1.0], [1.0, np.inf, 2.0, 1.0])}, {},
        lambda p: f"{p}:cr/sig: NaN, inf or negative variance in bin 2 of 4 [1, 2): inf "
                  "(the nominal of sample 'sig' in channel 'cr')"),
    "all_zero_signal": (
        {"sr/sig": np.zeros(4), "cr/sig": np.zeros(4)}, {},
        lambda p: f"{KEY}.samples[0] (sig): the nominal is zero in every bin of every channel ({p}:sr/sig, "
                  f"{p}:cr/sig); it is scaled by the POI 'mu', which cannot be measured without it"),
    "all_zero_background": (
        {"sr/bkg": np.zeros(4), "cr/bkg": np.zeros(4)}, {"systematics": []},
        lambda p: f"{KEY}.samples[1] (bkg): the nominal is zero in every bin of every channel ({p}:sr/bkg, "
                  f"{p}:cr/bkg); it adds nothing to the fit"),
    "variation_with_5_bins": (
        {"sr/bkg_jesUp": (np.ones(5), np.ones(5), np.arange(6.0))}, {},
        lambda p: f"{p}:sr/bkg_jesUp: 5 bins, but {p}:sr/sig (the nominal of sample 'sig' in channel 'sr') has 4 "
                  "(the jes up variation of sample 'bkg' in channel 'sr')"),
    "data_with_other_edges": (
        {"cr/data_obs": (NOMINAL["cr/data_obs"], NOMINAL["cr/data_obs"], [0.0, 1.0, 2.0, 3.0, 5.0])}, {},
        lambda p: f"{p}:cr/data_obs: bin edge 4 is 5, but 4 in {p}:cr/sig (the nominal of sample 'sig' in "
                  "channel 'cr'); the bins of a channel must agree (the data of channel 'cr')"),
    "missing_variation": (
        {"cr/bkg_jesDown": None}, {},
        lambda p: f"{p}:cr/bkg_jesDown: no object 'cr/bkg_jesDown' in {p} (the jes down variation of sample 'bkg' "
                  "in channel 'cr'; 'cr' holds: sig, bkg, data_obs, bkg_jesUp)"),
    "missing_file": (
        {}, {"nominal": "{folder}/absent.root:{{channel}}/{{sample}}",
             "variation": "{folder}/absent.root:{{channel}}/{{sample}}_{{systematic}}{{direction}}"},
        lambda p: f"{p.parent}/absent.root: no such file (it should hold 'sr/sig', the nominal of sample 'sig' "
                  "in channel 'sr')"),
    "corrupt_file": (
        {"corrupt": True}, {},
        lambda p: f"{p}: cannot be read as a ROOT file"),
    "not_a_histogram": (
        {"sr/data_obs": "tree"}, {},
        lambda p: f"{p}:sr/data_obs: is a TTree, not a 1D histogram (the data of channel 'sr')"),
    "histogram_without_bins": (
        {"sr/bkg": ([], [], [0.0])}, {},
        lambda p: f"{p}:sr/bkg: the histogram has no bins ({BKG_SR})"),
    "negative_data": (
        {"cr/data_obs": [205.0, -1.0, 127.0, 86.0]}, {},
        lambda p: f"{p}:cr/data_obs: negative data in bin 2 of 4 [1, 2): -1 (the data of channel 'cr'); "
                  "data are event counts"),
    "empty_variation": (
        {"cr/bkg_jesUp": np.zeros(4)}, {},
        lambda p: f"{p}:cr/bkg_jesUp: the variation has no events (sum 0) while the nominal {p}:cr/bkg has 560 "
                  "(the jes up variation of sample 'bkg' in channel 'cr')"),
}
#: negative_bins: zero also fails on negative data
HIST_CASES["negative_data_with_policy_zero"] = (HIST_CASES["negative_data"][0], {"negative_bins": "zero"},
                                                HIST_CASES["negative_data"][2])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """case -> (its ROOT file, its refit entry); also the good file and the zero-policy cases."""
    d = tmp_path_factory.mktemp("refit_inputs")
    out = {}
    for case, (changes, entry_changes, _) in HIST_CASES.items():
        path = d / f"{case}.root"
        if changes.get("corrupt"):
            path.write_bytes(b"root" + bytes(range(256)) * 8)
        else:
            _write(path, changes)
        entry_changes = {k: v.format(folder=d) if isinstance(v, str) else v for k, v in entry_changes.items()}
        out[case] = (path, _entry(path, **entry_changes))
    out["good"] = (_write(d / "good.root"), _entry(d / "good.root"))
    # a small negative background bin, and the same histograms with that bin 0 (variance kept)
    negative = {"sr/bkg": ([60.0, -3.0, 30.0, 20.0], [60.0, 3.0, 30.0, 20.0]),
                "cr/bkg_jesUp": [200.0, 150.0, -1.5, 90.0]}
    zeroed = {"sr/bkg": ([60.0, 0.0, 30.0, 20.0], [60.0, 3.0, 30.0, 20.0]),
              "cr/bkg_jesUp": ([200.0, 150.0, 0.0, 90.0], [200.0, 150.0, 1.5, 90.0])}
    out["zero"] = (_write(d / "negative.root", negative), _entry(d / "negative.root", negative_bins="zero"))
    out["zeroed"] = (_write(d / "zeroed.root", zeroed), _entry(d / "zeroed.root"))
    return out


@pytest.mark.parametrize("case", HIST_CASES)
def test_bad_histogram_is_named(inputs, case):
    path, entry = inputs[case]
    with pytest.raises(RefitInputError) as err:
        check_refit_histograms(entry, KEY)
    assert HIST_CASES[case][2](path) in str(err.value)


def test_good_histograms_pass_and_are_all_read(inputs):
    path, entry = inputs["good"]
    hists, corrections = check_refit_histograms(entry, KEY)
    assert corrections == []
    # 2 channels x (2 nominal + data + jes up/down of bkg)
    assert sorted(r.path for r in hists) == sorted(_good())
    assert hists[next(r for r in hists if r.path == "sr/bkg")].values.tolist() == NOMINAL["sr/bkg"]
    # a symmetrised systematic's down variation is not read
    hists, _ = check_refit_histograms(entry, KEY, symmetrize=["jes"])
    assert not any(r.role == "down" for r in hists) and len(hists) == 8


def _script(entry: dict[str, Any], out: Path) -> subprocess.CompletedProcess:
    """scripts/refit_workspace.py on ``entry`` as the workspace job runs it (the run config as rule run_config
    writes it: the validated config)."""
    out.mkdir(parents=True)
    cfg = _load(_config(entry), out.parent)
    (out / "config.json").write_text(json.dumps({"config": cfg}))
    fit = out / "fit" / "published"
    return subprocess.run([sys.executable, str(REPO / "scripts" / "refit_workspace.py"), "--config",
                           str(out / "config.json"), "--fit", "published", "--workspace", str(fit / "workspace.json"),
                           "--pruning", str(fit / "pruning.json")], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


@pytest.fixture(scope="module")
def script_runs(inputs, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every histogram case and the zero policy through the script, two at a time: case -> (process, results)."""
    d = tmp_path_factory.mktemp("refit_runs")
    cases = [*HIST_CASES, "zero"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {case: pool.submit(_script, inputs[case][1], d / case / "results") for case in cases}
        return {case: (run.result(), d / case / "results") for case, run in runs.items()}


@pytest.mark.parametrize("case", HIST_CASES)
def test_refit_workspace_script_fails_cleanly(inputs, script_runs, case):
    run, out = script_runs[case]
    line = assert_failed_cleanly(run, out, HIST_CASES[case][2](inputs[case][0]))
    assert "refit_workspace.py: " in line


# --------------------------------------------------------------------------- negative_bins: zero


def test_negative_bins_zero_fits_the_corrected_histograms(inputs, tmp_path, caplog):
    from sysaware.fit import fit_results

    path, entry = inputs["zero"]
    with caplog.at_level(logging.WARNING, logger="sysaware"):
        ws, _ = refit_workspace(entry, "published", tmp_path / "zero" / "inputs")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (f"{path}:sr/bkg: bin 2 of 4 [1, 2) is -3 ({BKG_SR}); set to 0 ({KEY}.negative_bins: zero)"
            in warnings)
    assert (f"{path}:cr/bkg_jesUp: bin 3 of 4 [2, 3) is -1.5 (the jes up variation of sample 'bkg' in "
            f"channel 'cr'); set to 0 ({KEY}.negative_bins: zero)" in warnings)
    record = json.loads((tmp_path / "zero" / "inputs" / CORRECTIONS_FILE).read_text())
    assert [(c["histogram"], c["bin"], c["value"]) for c in record["corrected"]] == [
        (f"{path}:sr/bkg", 2, -3.0), (f"{path}:cr/bkg_jesUp", 3, -1.5)]
    cabinetry_cfg = json.loads((tmp_path / "zero" / "inputs" / "cabinetry_config.json").read_text())
    assert cabinetry_cfg["General"]["InputPath"].startswith(str(tmp_path / "zero" / "inputs" / CORRECTED_FILE))

    ref_ws, _ = refit_workspace(inputs["zeroed"][1], "published", tmp_path / "zeroed" / "inputs")
    assert not (tmp_path / "zeroed" / "inputs" / CORRECTED_FILE).exists()
    assert ws == ref_ws  # the same workspace as from a file holding 0 in those bins
    bkg = next(s for s in next(c for c in ws["channels"] if c["name"] == "sr")["samples"] if s["name"] == "bkg")
    assert bkg["data"] == [60.0, 0.0, 30.0, 20.0]
    ours, ref = fit_results(ws), fit_results(ref_ws)
    assert ours["bestfit"] == pytest.approx(ref["bestfit"], abs=1e-9)
    assert ours["minos"] == pytest.approx(ref["minos"], abs=1e-9)


def test_negative_bins_zero_through_the_script(inputs, script_runs):
    run, out = script_runs["zero"]
    assert run.returncode == 0, run.stderr[-3000:]
    path = inputs["zero"][0]
    warning = next(line for line in run.stderr.splitlines() if " WARNING " in line and "sr/bkg:" in line)
    assert f"{path}:sr/bkg: bin 2 of 4 [1, 2) is -3" in warning
    assert (out / "fit" / "published" / "workspace.json").exists()
    assert len(json.loads((out / "fit" / "published" / "inputs" / CORRECTIONS_FILE).read_text())["corrected"]) == 2


# --------------------------------------------------------------------------- config cases


def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / name).read_text())


def _refit_base() -> dict[str, Any]:
    return _config(_entry("shapes.root"))


P = f"{KEY}."
# case -> (base config, dotted key, value, the message's start after "config file ...: ")
CONFIG_CASES: dict[str, tuple[Callable[[], dict[str, Any]], str, Any, str]] = {
    "bounds_inverted": (_refit_base, f"{P}normfactors.0.bounds", [10, -5],
                        f"{P}normfactors[0] (mu): bounds [10, -5]: lower bound 10 is not below the upper bound -5"),
    "nominal_outside_bounds": (_refit_base, f"{P}normfactors.0.nominal", 12.0,
                               f"{P}normfactors[0] (mu): nominal 12 lies outside the bounds [-5, 10]"),
    "default_nominal_outside_bounds": (_refit_base, f"{P}normfactors.0", {"name": "mu", "samples": ["sig"],
                                                                          "bounds": [2.0, 5.0]},
                                       f"{P}normfactors[0] (mu): nominal 1 lies outside the bounds [2, 5]"),
    "sample_twice": (_refit_base, f"{P}samples", [{"name": "sig"}, {"name": "bkg"}, {"name": "sig"}],
                     f"{P}samples: names ['sig'] appear more than once"),
    "channel_twice": (_refit_base, f"{P}channels", ["sr", "cr", "sr"], f"{P}channels: names ['sr'] appear more"),
    "normfactor_twice": (_refit_base, f"{P}normfactors", [{"name": "mu", "samples": ["sig"]},
                                                          {"name": "mu", "samples": ["bkg"]}],
                         f"{P}normfactors: names ['mu'] appear more than once"),
    "systematic_twice": (_refit_base, f"{P}systematics", [*_entry("x.root")["systematics"],
                                                          {"name": "jes", "type": "shape", "samples": ["sig"]}],
                         f"{P}systematics: names ['jes'] appear more than once"),
    "sample_twice_in_a_normfactor": (_refit_base, f"{P}normfactors.0.samples", ["sig", "sig"],
                                     f"{P}normfactors[0] (mu).samples: names ['sig'] appear more than once"),
    "parameter_twice_on_a_sample": (_refit_base, f"{P}systematics", [
                                        *_entry("x.root")["systematics"],
                                        {"name": "jes_b", "modifier": "jes", "type": "shape", "samples": ["bkg"]}],
                                    f"{P}systematics[2] (jes_b): parameter 'jes' already acts on sample 'bkg' "
                                    f"through {P}systematics[1] (jes)"),
    "systematic_named_like_a_normfactor": (_refit_base, f"{P}systematics.0.name", "mu",
                                           f"{P}systematics[0] (mu): parameter 'mu' is also a normfactor"),
    "data_is_a_sample": (_refit_base, f"{P}data", "bkg", f"{P}data: 'bkg' is also listed in {P}samples"),
    "unknown_sample": (_refit_base, f"{P}systematics.1.samples", ["ttbar"],
                       f"{P}systematics[1] (jes).samples: unknown samples ['ttbar'] (known: ['sig', 'bkg'])"),
    "poi_not_a_normfactor": (_refit_base, f"{P}poi", "xsec", f"{P}poi: POI 'xsec' is not one of the normfactors"),
    "fixed_unknown": (_refit_base, f"{P}fixed", [{"name": "jer", "value": 0.0}],
                      f"{P}fixed[0] (jer): unknown parameter ['jer'] (known: ['mu', 'lumi', 'jes'])"),
    "fixed_poi": (_refit_base, f"{P}fixed", [{"name": "mu", "value": 1.0}],
                  f"{P}fixed[0] (mu): the POI cannot be fixed"),
    "fixed_outside_bounds": (_refit_base, f"{P}fixed", [{"name": "jes", "value": 7.0}],
                             f"{P}fixed[0] (jes): value 7 lies outside the parameter's bounds [-5, 5]"),
    "directions_the_same": (_refit_base, f"{P}directions", ["Up", "Up"],
                            f"{P}directions: the up and the down label are both 'Up'"),
    "variation_without_direction": (_refit_base, f"{P}variation", "shapes.root:{channel}/{sample}_{systematic}",
                                    f"{KEY}: refit variation pattern 'shapes.root:{{channel}}/{{sample}}_"
                                    "{systematic}' lacks {direction}"),
    "refit_smoothing_unknown": (_refit_base, "fit.smoothing", ["unknown"],
                                f"fit.smoothing: 'unknown' is not a template systematic of {KEY} "
                                "(template systematics: ['jes'])"),
    "refit_symmetrize_normalisation": (_refit_base, "fit.symmetrize", ["lumi"],
                                       f"fit.symmetrize: 'lumi' is a normalisation systematic of {KEY}; only "
                                       "template systematics can be smoothed or symmetrised"),
    "benchmark_smoothing_unknown": (lambda: _raw("inferno_benchmark_quick.yaml"), "fit.smoothing", ["unknown"],
                                    "fit.smoothing: 'unknown' is not a template systematic of the benchmark fit "
                                    "model (template systematics: ['r', 'lam'])"),
    "benchmark_symmetrize_normalisation": (lambda: _raw("inferno_benchmark_quick.yaml"), "fit.symmetrize", ["b"],
                                           "fit.symmetrize: 'b' is a normalisation systematic of the benchmark "
                                           "fit model"),
    "cms_smoothing_unknown": (lambda: _raw("config.yaml"), "fit.smoothing", ["jes", "unknown"],
                              "fit.smoothing: 'unknown' is not a template systematic of the CMS fit model "
                              "(template systematics: ['jes', 'jer', 'tes', 'btag_bc', 'btag_light'])"),
    "cms_smoothing_disabled_systematic": (lambda: with_value(_raw("config.yaml"), "cms.shape_systematics",
                                                             ["jes"]), "fit.smoothing", ["tes"],
                                          "fit.smoothing: 'tes' is not a template systematic of the CMS fit model "
                                          "(template systematics: ['jes'])"),
    "cms_symmetrize_normfactor": (lambda: _raw("config.yaml"), "fit.symmetrize", ["qcd_norm"],
                                  "fit.symmetrize: 'qcd_norm' is a normfactor of the CMS fit model"),
    "higgsml_smoothing": (lambda: _raw("higgsml_tes_quick.yaml"), "fit.smoothing", ["tes"],
                          "fit: analysis higgsml_tes does not read this section"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_refit_config_is_named_by_load_config(tmp_path, case):
    base, key, value, text = CONFIG_CASES[case]
    with pytest.raises(ConfigError) as err:
        _load(with_value(base(), key, value), tmp_path)
    assert str(err.value).startswith(f"config file {tmp_path / 'refit.yaml'}: {text}"), str(err.value)


def test_the_base_configs_of_the_cases_pass(tmp_path):
    for base in {c[0] for c in CONFIG_CASES.values()}:
        _load(base(), tmp_path)


@pytest.mark.parametrize("case", ["bounds_inverted", "benchmark_smoothing_unknown", "cms_symmetrize_normfactor"])
def test_bad_config_stops_snakemake_dry_run_before_any_job(tmp_path, case):
    base, key, value, text = CONFIG_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_value(base(), key, value) | {"results_dir": str(tmp_path / "results")}))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--nolock", "--cores", "1", "--configfile",
                          str(path)], cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env())
    shown = res.stdout + res.stderr  # a dry run reports on stdout
    assert res.returncode != 0
    assert text in shown, shown[-2000:]
    assert "Select jobs to execute" not in shown and "Job stats" not in shown
    assert not (tmp_path / "results").exists()


def test_config_checks_import_neither_torch_nor_pyhf():
    """They run when the Snakefile is parsed: the fit models' systematics come from ModelSpec alone."""
    code = ("import sys\nfrom sysaware.config import load_config\n"
            "for name in ('config.yaml', 'inferno_benchmark_quick.yaml', 'refit_example.yaml'):\n"
            "    load_config(f'config/{name}')\n"
            "print(sorted(m for m in ('torch', 'pyhf', 'cabinetry', 'uproot') if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def test_every_refit_schema_key_has_a_description_and_a_default():
    """Optional keys: a schema default, or the default said in the description (e.g. path: "default: name");
    keys required under a condition (up/down of a normalisation systematic) need none."""
    from sysaware.config import SCHEMA

    entry = yaml.safe_load(SCHEMA.read_text())["properties"]["refit"]["properties"]["fits"]["additionalProperties"]
    todo = [("refit.fits.<name>", entry)]
    missing = []
    while todo:
        where, node = todo.pop()
        required = [*node.get("required", []), *node.get("then", {}).get("required", [])]  # then: if type is ...
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{where}.{key}: no description")
            elif key not in required and "default" not in sub and "default" not in sub["description"]:
                missing.append(f"{where}.{key}: no default")
            if sub.get("type") == "array" and "properties" in sub.get("items", {}):
                todo.append((f"{where}.{key}[]", sub["items"]))
    assert missing == []
    assert entry["properties"]["negative_bins"] | {"description": ""} == {
        "description": "", "type": "string", "enum": ["error", "zero"], "default": "error"}
