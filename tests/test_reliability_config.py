"""Bad configs stop before any job, with a message naming the key: unknown keys, wrong types,
missing fields, unknown samples or systematics referenced, bounds and binnings that disagree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import REPO, snakemake_env, with_value
from sysaware.config import ConfigError, load_config
from sysaware.config_checks import check_config


def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / name).read_text())


# (base config, dotted key, value, text the message must contain)
CASES = {
    "unknown_key": ("config.yaml", "cms.lumi", 250.0, "lumi"),
    "unknown_nested_key": ("higgsml_tes_quick.yaml", "higgsml.tes.sigmaa", 0.03, "sigmaa"),
    "wrong_type": ("config.yaml", "training.epochs", "many", "epochs"),
    "wrong_type_list": ("inferno_benchmark_quick.yaml", "training.hidden", 100, "hidden"),
    "missing_field_role": ("config.yaml", "cms.samples.0.role", ..., "role"),
    "missing_field_seed": ("config.yaml", "seed", ..., "seed"),
    "unknown_sample_in_norm_systematic": ("config.yaml", "cms.norm_systematics.lumi.samples",
                                          ["ttbar_taujets", "tt_other"], "cms.norm_systematics.lumi.samples"),
    "unknown_sample_in_higgsml_norm": ("higgsml_tes_quick.yaml", "higgsml.norm_systematics",
                                       {"bkg_norm": {"size": 0.05, "samples": ["backgound"]}},
                                       "higgsml.norm_systematics.bkg_norm.samples"),
    "unknown_sample_in_refit": ("refit_example.yaml", "refit.fits.bce.normfactors.0.samples", ["sgnal"],
                                "refit.fits.bce"),
    "unknown_systematic": ("config.yaml", "cms.shape_systematics", ["jes", "jec"], "jec"),
    "unknown_generated_process": ("config.yaml", "cms.generator.n_events", {"ttbar": 1000, "wjets": 10, "dy": 10,
                                                                            "qcd": 10}, "single_top"),
    "inconsistent_binning_sigma_off_grid": ("higgsml_tes_quick.yaml", "higgsml.tes.sigma", 0.025,
                                            "not a multiple of grid.step"),
    "inconsistent_binning_truth_off_grid": ("higgsml_tes_quick.yaml", "higgsml.tes.true_values", [0.0, 0.2],
                                            "0.2 lies outside the grid"),
    "inverted_bounds": ("config.yaml", "cms.qcd_norm_bounds", [1.5, 0.5], "cms.qcd_norm_bounds"),
    "split_leaves_no_templates": ("config.yaml", "cms.split", {"train": 0.7, "valid": 0.3}, "cms.split"),
    "two_data_samples": ("config.yaml", "cms.samples.1.role", "data", "exactly one sample needs role 'data'"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_is_named_by_load_config(tmp_path, case):
    base, key, value, text = CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_value(_raw(base), key, value)))
    with pytest.raises(ConfigError, match=r"bad\.yaml") as err:
        load_config(path)
    assert text in str(err.value)


def _snakemake(cfg: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess:
    cfg = {**cfg, "results_dir": str(tmp_path / "results")}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", "--configfile", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env())


@pytest.mark.parametrize("case", ["unknown_key", "wrong_type", "missing_field_role", "unknown_sample_in_norm_systematic",
                                  "inconsistent_binning_sigma_off_grid"])
def test_bad_config_stops_snakemake_before_any_job(tmp_path, case):
    base, key, value, text = CASES[case]
    res = _snakemake(with_value(_raw(base), key, value), tmp_path)
    assert res.returncode != 0
    assert text in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "results").exists()  # no job ran, nothing written
    assert "Select jobs to execute" not in res.stdout + res.stderr


def test_malformed_yaml_stops_snakemake_before_any_job(tmp_path):
    """Snakemake parses --configfile itself and does not name the file; load_config (the stage
    scripts' and users' entry point) names the file and the line."""
    path = tmp_path / "broken.yaml"
    path.write_text("analysis: cms_ttbar_taujets\nseed: [1, 2\n")
    res = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", "--configfile", str(path)],
                         cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert res.returncode != 0 and "Config file is not valid JSON or YAML" in res.stderr
    with pytest.raises(ConfigError, match=r"broken.yaml is not valid YAML(.|\n)*line 2"):
        load_config(path)


def test_every_shipped_config_passes_the_cross_checks():
    for path in sorted((REPO / "config").glob("*.yaml")):
        check_config(load_config(path))
