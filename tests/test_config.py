"""Config validation: bad configs stop before any job with a message naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, TEST_CONFIGS, snakemake_env
from sysaware.config import ConfigError, load_config
from sysaware.refit.entries import refit_input_files

#: every config of config/ and the tiny ones of .test/ (each runnable as it is from the repository root)
CONFIGS = sorted((REPO / "config").glob("*.yaml")) + sorted(TEST_CONFIGS.glob("*.yaml"))


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _base() -> dict:
    return {"analysis": "inferno_benchmark", "seed": 1}


def test_defaults_are_filled(tmp_path):
    cfg = load_config(_write(tmp_path, _base()))
    assert cfg["training"]["n_bins"] == 10
    assert cfg["methods"]["inferno"]["nuisance_mode"] == "exact"


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"trainng": {}}, "trainng"),  # unknown top-level key
        ({"training": {"n_bin": 3}}, "n_bin"),  # unknown nested key
        ({"training": {"n_bins": "ten"}}, "n_bins"),  # wrong type
        ({"seed": -3}, "seed"),  # out of range
        ({"methods": {"inferno": {"nuisance_mode": "approx"}}}, "nuisance_mode"),
    ],
)
def test_bad_config_names_the_key(tmp_path, patch, key):
    cfg = _base() | patch
    with pytest.raises(ConfigError, match=key):
        load_config(_write(tmp_path, cfg))


def test_missing_required_field_named(tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        load_config(_write(tmp_path, {"analysis": "inferno_benchmark"}))


def test_missing_config_file_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_unsafe_yaml_is_not_executed(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("analysis: !!python/object/apply:os.system ['echo pwned']\nseed: 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", *args],
        cwd=repo, capture_output=True, text=True, timeout=300, env=snakemake_env(),
    )


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c.relative_to(REPO)) for c in CONFIGS])
def test_dry_run_every_config(repo, config, tmp_path):
    cfg = load_config(config)
    local_input = cfg.get("higgsml", {}).get("input", "")
    if local_input and "://" not in local_input and not (repo / local_input).is_file():
        pytest.skip(f"{config.name}: higgsml.input {local_input} not found (a clone without ../shared/data)")
    missing = []
    if cfg["analysis"] == "refit":  # its inputs are histograms someone else made
        missing = [f for e in cfg["refit"]["fits"].values() for f in refit_input_files(e) if not (repo / f).exists()]
    res = _snakemake(repo, "-n", "--cores", "1", "--configfile", str(config),
                     "--config", f"results_dir={tmp_path}")
    if missing:  # e.g. refit_example.yaml before the default run: the error names the file
        out = res.stdout + res.stderr
        assert res.returncode != 0 and "MissingInputException" in out and missing[0] in out
    else:
        assert res.returncode == 0, res.stderr[-3000:]


def test_snakemake_stops_before_any_job_naming_the_key(repo, tmp_path):
    cfg = _base() | {"results_dir": str(tmp_path / "out"), "training": {"epochs": "many"}}
    res = _snakemake(repo, "--cores", "1", "--configfile", str(_write(tmp_path, cfg)))
    assert res.returncode != 0
    assert "epochs" in res.stderr + res.stdout
    assert not (tmp_path / "out").exists()


def test_lint_is_clean(repo):
    res = _snakemake(repo, "--lint")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Lints for rule" not in res.stdout + res.stderr
