"""config/cms_opendata_2015.yaml: the tau+jets analysis on the real CMS 2015 NanoAOD (remote files).

The files cannot be read here (no network), so the checks are offline: the config validates, its
simulated samples are normalisable remote NanoAOD lists, the workflow dry-runs, and the fit model
builds with norm systematics that only name fit samples.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import snakemake_env
from sysaware.cms.model import POI, QCD, cms_spec, fit_samples
from sysaware.config import load_config

CONFIG = "config/cms_opendata_2015.yaml"
REMOTE = ("https://", "root://")


@pytest.fixture(scope="module")
def cfg(repo):
    return load_config(repo / CONFIG)


def test_validates(cfg):
    assert cfg["analysis"] == "cms_ttbar_taujets"
    assert cfg["cms"]["lumi_pb"] == pytest.approx(3378.0)
    assert cfg["cms"]["selection"] == {"muon_loose_id": False}


def test_samples_are_remote_nanoaod(cfg):
    samples = cfg["cms"]["samples"]
    assert [s["role"] for s in samples].count("data") == 1
    assert [s["name"] for s in samples if s["role"] == "signal"] == ["ttbar"]
    assert next(s for s in samples if s["name"] == "ttbar")["split_ttbar"] is True
    for s in samples:
        assert "generated" not in s, s["name"]
        assert s["files"] and all(f.startswith(REMOTE) and f.endswith(".root") for f in s["files"]), s["name"]
        assert len(set(s["files"])) == len(s["files"]), s["name"]
        if s["role"] != "data":
            assert s["xsec_pb"] > 0, s["name"]
    # the ttbar stand-in for data must not reuse the ttbar sample's events
    files = {s["name"]: set(s["files"]) for s in samples}
    data = next(s["name"] for s in samples if s["role"] == "data")
    assert not files[data] & files["ttbar"]


def test_workflow_dry_run(repo, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--nolock", "--cores", "1", "--configfile", CONFIG,
         "--config", f"results_dir={tmp_path}"],
        cwd=repo, capture_output=True, text=True, timeout=120, env=snakemake_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "cms_ingest" in out
    assert "cms_generate" not in out  # no generated sample: the generator must not run


def test_fit_model_builds(cfg):
    samples = fit_samples(cfg)
    assert samples[:2] == ["ttbar_taujets", "ttbar_other"]
    assert QCD not in samples  # no QCD sample in the AGC 2015 NanoAOD set, hence no qcd_norm
    for name, entry in cfg["cms"]["norm_systematics"].items():
        unknown = sorted(set(entry["samples"]) - set(samples))
        assert not unknown, f"norm systematic {name} names samples {unknown} that are not fit samples"
    spec = cms_spec(cfg)
    assert spec.poi == POI
    assert list(spec.sample_names) == samples
    modifiers = {m.name: m for m in spec.modifiers}
    assert "qcd_norm" not in modifiers
    for name, entry in cfg["cms"]["norm_systematics"].items():
        assert modifiers[name].type == "normsys"
        assert set(modifiers[name].samples) == set(entry["samples"]), name  # none dropped silently
