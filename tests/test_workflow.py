"""The whole default workflow, through Snakemake, on a tiny configuration."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from helpers import shared_data, snakemake_env, tiny_config
from sysaware.digest import digest_tree
from sysaware.results_contract import validate_results


FIT_STAGE_FILES = {"run_record", "fit_results", "scan", "impact", "ranking", "pruning", "comparison"}


def assert_results_contract(folder: Path, kinds: set[str]) -> dict[str, str]:
    """Every JSON file of the results contract in ``folder`` validates against its schema
    (docs/results.md), and files of each of ``kinds`` were among them; returns {path: kind}."""
    checked = validate_results(folder)
    assert kinds <= set(checked.values()), sorted(kinds - set(checked.values()))
    return checked


def run_tiny(repo, tmp_path, cfg: dict, name: str) -> subprocess.CompletedProcess:
    """Write ``cfg`` to ``tmp_path/name.yaml`` and run the workflow on it; fails the test if Snakemake fails."""
    cfg_path = tmp_path / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    res = run_workflow(repo, cfg_path)
    assert res.returncode == 0, res.stderr[-4000:]
    return res


def run_workflow(repo, config_path) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 --configfile config_path`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", "--cores", "2", "--configfile", str(config_path)],
        cwd=repo, capture_output=True, text=True, timeout=900, env=snakemake_env(),
    )


@pytest.mark.workflow
def test_tiny_workflow_end_to_end(repo, tmp_path, shared_reference):
    cfg = tiny_config("benchmark_tiny", tmp_path / "results") | {"reference_dir": str(shared_reference)}
    run_tiny(repo, tmp_path, cfg, "tiny")
    out = tmp_path / "results" / "inferno_benchmark"
    table = json.loads((out / "paper_table.json").read_text())
    assert table["columns"] == ["bm0", "bm1", "bm2", "bm3", "bm4"]
    assert table["n_trainings"] == {"bce": 2, "aware": 2, "inferno_bm3": 2}
    assert list(table["other_methods"]) == ["aware"] and "| aware (ours, median) |" in (out / "paper_table.md").read_text()
    # a binned summary never beats the unbinned analytic likelihood
    for row in (table["bce"], table["inferno_trained_under"]["bm3"]):
        assert all(ours >= an * 0.999 for ours, an in zip(row, table["analytic"]))
    assert (out / "paper_table.png").stat().st_size > 10_000
    assert "INFERNO bm3" in (out / "paper_table.md").read_text()
    run = json.loads((out / "config.json").read_text())
    assert run["versions"]["torch"].startswith("2.")
    assert run["git_commit"]
    for rule in ("benchmark_data", "paper_table"):
        assert (out / "benchmarks" / f"{rule}.tsv").exists()
    # fit stage: results contract (docs/results.md) for every method, and the comparison
    checked = assert_results_contract(out, FIT_STAGE_FILES | {"paper_table"})
    assert list(checked.values()).count("impact") == 3 * 3
    for method in ("bce", "aware", "inferno_bm3"):
        fit = json.loads((out / "fit" / method / "fit_results.json").read_text())
        for key in ("poi", "bestfit", "minos", "stat_only_minos", "asimov_minos", "labels",
                    "bestfit_all", "uncertainty_all", "correlation"):
            assert key in fit
        assert fit["poi"] == "mu" and fit["minos"][0] < 0 < fit["minos"][1]
        for fig in ("pulls", "ranking", "correlation", "scan", "data_mc"):
            assert (out / "fit" / method / f"{fig}.png").stat().st_size > 5_000
        assert len(list((out / "fit" / method / "impacts").glob("*.json"))) == 3
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["analysis"] == "inferno_benchmark"
    assert [m["method"] for m in comp["methods"]] == ["bce", "aware", "inferno_bm3"]
    assert comp["methods"][0]["ratio_to_bce"] == 1.0
    for row in comp["methods"]:
        assert row["stat_only"] <= row["poi_uncertainty"] * 1.001

    # analysis "refit" on the histograms just written (config/refit_example.yaml's entries,
    # pointed at this run): the refit must give the same intervals again
    refit = yaml.safe_load((repo / "config" / "refit_example.yaml").read_text())
    refit["results_dir"] = str(tmp_path / "results")
    fits = refit["refit"]["fits"]
    fits["inferno_bm3"] = fits.pop("inferno_bm4")
    for method, entry in fits.items():
        for key in ("nominal", "variation"):
            entry[key] = entry[key].replace("results/inferno_benchmark/fit/inferno_bm4", "results/inferno_benchmark/fit/bce")
            entry[key] = entry[key].replace("results/inferno_benchmark/fit/bce", str(out / "fit" / method))
    refit_path = tmp_path / "refit.yaml"
    refit_path.write_text(yaml.safe_dump(refit))
    res = run_workflow(repo, refit_path)
    assert res.returncode == 0, res.stderr[-4000:]
    for method in ("bce", "inferno_bm3"):
        ours = json.loads((tmp_path / "results" / "refit" / "fit" / method / "fit_results.json").read_text())
        published = json.loads((out / "fit" / method / "fit_results.json").read_text())
        for key in ("minos", "stat_only_minos", "asimov_minos"):
            assert ours[key] == pytest.approx(published[key], abs=1e-5), (method, key)
        pruning = json.loads((tmp_path / "results" / "refit" / "fit" / method / "pruning.json").read_text())
        assert pruning["threshold"] == refit["fit"]["prune_threshold"]
    comp = json.loads((tmp_path / "results" / "refit" / "comparison.json").read_text())
    assert [m["method"] for m in comp["methods"]] == ["bce", "inferno_bm3"]
    assert_results_contract(tmp_path / "results" / "refit", FIT_STAGE_FILES)

    # every file of the results contract is a target: deleted, it is rebuilt, with the same content
    before = digest_tree(out)
    deleted = [out / "fit" / "bce" / "fit_results.json", out / "fit" / "bce" / "scan.json",
               out / "fit" / "inferno_bm3" / "ranking.json", out / "paper_table.json"]
    for path in deleted:
        path.unlink()
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(tmp_path / "tiny.yaml")],
                          cwd=repo, capture_output=True, text=True, timeout=300, env=snakemake_env())
    for rule in ("fit_results", "fit_scan", "fit_ranking", "benchmark_paper_table"):
        assert f"rule {rule}:" in plan.stdout, (rule, plan.stdout[-3000:])
    run_tiny(repo, tmp_path, cfg, "tiny")
    after = digest_tree(out)
    for path in deleted:
        key = str(path.relative_to(out))
        assert path.is_file() and after[key] == before[key], key


def _run_tiny_cms(repo, folder) -> Path:
    """The tiny CMS configuration run through Snakemake into ``folder``; its results folder."""
    cfg = tiny_config("cms_tiny", folder / "results")
    cfg["cms"]["shape_systematics"] = ["jes", "tes"]
    cfg["cms"]["norm_systematics"] = {k: cfg["cms"]["norm_systematics"][k] for k in ("lumi", "xsec_ttbar")}
    cfg["methods"]["aware"] = {"enabled": True}  # a z-method (z = JES) through training, ONNX and the fit stage
    path = folder / "cms.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = run_workflow(repo, path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return folder / "results" / "cms_ttbar_taujets"


@pytest.fixture(scope="module")
def tiny_cms_run(repo, tmp_path_factory) -> Path:
    """One run of the tiny CMS workflow, shared by the tests that read it."""
    return _run_tiny_cms(repo, tmp_path_factory.mktemp("cms_run"))


@pytest.mark.workflow
def test_tiny_cms_workflow_end_to_end(tiny_cms_run):
    """Generator -> ingestion -> BCE/INFERNO -> ONNX -> templates -> fits -> comparison, through Snakemake."""
    out = tiny_cms_run
    for sample in ("ttbar", "single_top", "wjets", "dy", "qcd", "data"):
        flow = json.loads((out / "ingested" / f"{sample}.json").read_text())["cutflows"]["nominal"]
        counts = [v["events"] for v in flow.values()]
        assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    for method in ("bce", "aware", "inferno"):
        assert (out / "models" / method / "repeat0.onnx").stat().st_size > 1000
        fit = json.loads((out / "fit" / method / "fit_results.json").read_text())
        assert fit["poi"] == "mu" and fit["minos"][0] < 0 < fit["minos"][1]
        assert {"jes", "tes", "lumi", "xsec_ttbar", "qcd_norm"} <= set(fit["labels"])
        impacts = {p.stem for p in (out / "fit" / method / "impacts").glob("*.json")}
        assert {"jes", "tes", "lumi", "xsec_ttbar"} <= impacts
    comp = json.loads((out / "comparison.json").read_text())
    assert [m["method"] for m in comp["methods"]] == ["bce", "aware", "inferno"]
    # the parameterised f(x, JES): also fitted with templates and data rebuilt at JES = -1, 0, +1 sigma
    grid = json.loads((out / "fit" / "aware" / "grid_fit.json").read_text())
    assert grid["grid"] == grid["grid"] | {"nuisance": "jes", "nodes": [-1.0, 0.0, 1.0]} and "jes" in grid["labels"]
    assert grid["minos"][0] < 0 <= grid["minos"][1] and grid["stat_only_minos"][1] <= grid["minos"][1] * 1.001
    assert [r["method"] for r in comp["grid_fits"]] == ["aware"]
    assert_results_contract(out, FIT_STAGE_FILES | {"data_truth", "grid_fit"})


def _planned_rules(repo, cfg: dict, folder: Path) -> set[str]:
    """The rules a dry run of ``cfg`` would run (nothing to be done: an empty set)."""
    path = folder / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--nolock", "--configfile", str(path)],
                         cwd=repo, capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return {m.group(1) for m in re.finditer(r"^(?:local)?(?:rule|checkpoint) (\w+):$", res.stdout, re.M)}


@pytest.mark.workflow
def test_a_changed_key_reruns_only_the_stages_that_read_it(repo, tiny_cms_run):
    """Each rule depends on its stage's config keys only (src/sysaware/stages.py): after the tiny run,
    a dry run with one key changed plans the stages that read it and what follows, nothing else."""
    folder = tiny_cms_run.parent.parent
    cfg = yaml.safe_load((folder / "cms.yaml").read_text())
    assert _planned_rules(repo, cfg, folder) <= {"run_config", "all"}  # the same config: nothing to redo
    events = {"cms_generate", "cms_ingest"}
    fit_stage = {"cms_fit_inputs", "fit_results", "fit_scan", "fit_ranking", "fit_plots", "comparison"}
    changed = copy.deepcopy(cfg)
    changed["training"]["epochs"] += 1  # a training key: every training, then its fit; never the events
    plan = _planned_rules(repo, changed, folder)
    assert "cms_train" in plan and fit_stage <= plan and not plan & events, plan
    changed = copy.deepcopy(cfg)
    changed["fit"] = {"prune_threshold": 0.02}  # a fit option: the fit stage only
    plan = _planned_rules(repo, changed, folder)
    assert fit_stage <= plan and not plan & (events | {"cms_train"}), plan
    changed = copy.deepcopy(cfg)
    changed["cms"]["norm_systematics"]["lumi"]["size"] = 0.03  # the fit model (INFERNO's loss too): not the events
    plan = _planned_rules(repo, changed, folder)
    assert {"cms_train", "cms_fit_inputs"} <= plan and not plan & events, plan
    changed = copy.deepcopy(cfg)
    changed["cms"]["lumi_pb"] += 1.0  # the events themselves: everything
    assert events | {"cms_train"} | fit_stage <= _planned_rules(repo, changed, folder)


@pytest.mark.workflow
def test_determinism_of_the_cms_workflow_outputs(repo, tmp_path, tiny_cms_run):
    """The same config run twice on the CPU: identical content hashes of every output that holds
    numbers (generated and ingested events, models, ONNX files, templates, workspaces, fit
    results, scans, impacts, the comparison), and the run record names versions and commit."""
    again = _run_tiny_cms(repo, tmp_path)
    first, second = digest_tree(tiny_cms_run), digest_tree(again)
    assert len(first) > 30
    for kind in ("generated/ttbar.root", "ingested/ttbar.npz", "models/inferno/repeat0.pt",
                 "fit/inferno/inputs/templates.root", "fit/inferno/fit_results.json", "comparison.json"):
        assert any(k.startswith(kind) for k in first), kind
    differ = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))
    assert differ == []
    for run in (tiny_cms_run, again):
        record = json.loads((run / "config.json").read_text())
        assert record["versions"]["torch"] == torch.__version__ and record["git_commit"]


@pytest.mark.workflow
def test_tiny_higgsml_workflow_end_to_end(repo, tmp_path):
    """prepare -> every method (true_z per true z) -> profiled widths -> comparison, through Snakemake."""
    cfg = tiny_config("higgsml_tiny", tmp_path / "results")
    cfg["higgsml"]["input"] = str(shared_data("higgsml_atlas_2014_head.csv.gz"))  # $SYSAWARE_SHARED if set
    run_tiny(repo, tmp_path, cfg, "tiny_higgsml")
    out = tmp_path / "results" / "higgsml_tes"
    table = json.loads((out / "comparison.json").read_text())
    methods = [r["method"] for r in table["methods"]]
    assert methods == ["bce", "augment", "aware", "pivot", "disco", "inferno", "true_z"]
    for row in table["methods"]:
        assert [p["true_z"] for p in row["per_true_z"]] == [0.0, 0.03]
        for p in row["per_true_z"]:
            # a profiled nuisance can only widen the interval
            assert 0 < p["stat_only"] <= p["expected"] * (1 + 1e-6)
        fit = json.loads((out / "fit" / row["method"] / "fit_results.json").read_text())
        assert fit["labels"] == ["mu", "z", "bkg_norm"] and fit["minos"][0] < 0 < fit["minos"][1]
        assert fit["asimov_minos"][0] < 0 < fit["asimov_minos"][1]
    assert set(table["targets"]) == {"aware_not_wider_than_bce", "aware_within_5pct_of_true_z", "met"}
    assert (out / "profile_scans.png").stat().st_size > 10_000
    summary = json.loads((out / "prepared" / "summary.json").read_text())
    assert summary["repeated_id_rows_dropped"] == 22_052 and summary["events"] == 22_889
    assert (out / "benchmarks" / "train" / "true_z_1.tsv").exists()
    checked = assert_results_contract(out, {"run_record", "higgsml_fit_results", "higgsml_comparison"})
    assert list(checked.values()).count("higgsml_fit_results") == len(methods)
