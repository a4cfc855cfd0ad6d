"""The HiggsML configs: the quick one (shared head) and the full one (the record's URL) validate and dry-run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import snakemake_env
from sysaware.config import ConfigError, load_config
from sysaware.higgsml.model import higgsml_spec, z_grid
from sysaware.higgsml.methods import model_names


@pytest.mark.parametrize("name", ["higgsml_tes_quick", "higgsml_tes"])
def test_config_validates_and_builds_the_model(repo, name):
    cfg = load_config(repo / "config" / f"{name}.yaml")
    assert cfg["analysis"] == "higgsml_tes"
    grid = z_grid(cfg["higgsml"]["tes"])
    for z in (*cfg["higgsml"]["tes"]["true_values"], cfg["higgsml"]["tes"]["sigma"], 0.0):
        assert min(abs(grid - z)) < 1e-12
    assert model_names(cfg) == ["bce", "augment", "aware", "pivot", "disco", "inferno",
                                "true_z_0", "true_z_1", "true_z_2"]
    spec = higgsml_spec(cfg)
    assert [m.name for m in spec.modifiers] == ["mu", "tes", "bkg_norm"]
    assert (spec.normsys_code, spec.histosys_code) == ("code1", "code0")


def test_full_config_reads_the_record_url(repo):
    cfg = load_config(repo / "config" / "higgsml_tes.yaml")
    assert cfg["higgsml"]["input"] == "https://opendata.cern.ch/record/328/files/atlas-higgs-challenge-2014-v2.csv.gz"
    assert cfg["higgsml"]["luminosity_scale"] == 1.0


@pytest.mark.parametrize("name", ["higgsml_tes_quick", "higgsml_tes"])
def test_dry_run(repo, name, tmp_path):
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile",
                          f"config/{name}.yaml", "--config", f"results_dir={tmp_path}"],
                         cwd=repo, capture_output=True, text=True, env=snakemake_env())
    assert res.returncode == 0, res.stderr[-3000:]
    assert "higgsml_train" in res.stdout and "higgsml_comparison" in res.stdout


def test_bad_grid_and_unknown_keys_are_named(repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("analysis: higgsml_tes\nseed: 1\nhiggsml: {input: x.csv, tes: {sigmaa: 0.03}}\n")
    with pytest.raises(ConfigError, match="sigmaa"):
        load_config(bad)
    with pytest.raises(ValueError, match="not a multiple of grid.step"):
        z_grid({"sigma": 0.025, "grid": {"step": 0.01, "max": 0.09}, "true_values": [0.0]})
    with pytest.raises(ValueError, match="true value 0.2 lies outside the grid"):
        z_grid({"sigma": 0.03, "grid": {"step": 0.01, "max": 0.09}, "true_values": [0.2]})
