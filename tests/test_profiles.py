"""Profiles (profiles/default, slurm, htcondor) and the resources every rule declares.

- Every rule and checkpoint of workflow/rules/*.smk declares threads and resources with mem_mb
  and runtime (minutes); the training rules also a gpu count, 0 by default. Read from the rule
  files themselves, so rules of every analysis are covered (a dry run shows only one analysis,
  and fills in default resources).
- The HTCondor profile asks for each rule's mem_mb (its plugin reads only htcondor_request_mem_mb).
- `snakemake -n --profile profiles/<name>` succeeds on the default config and on the quick
  benchmark, and every job it lists carries what the scheduler needs (slurm_account/partition
  from the environment, HTCondor's memory) and the rule's resources.
- --set-resources / --set-threads reach the training jobs, and the slurm plugin turns gpu=N into
  sbatch --gpus=N.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from helpers import REPO, snakemake_env
from snakemake_log import jobs

PROFILES = ("default", "slurm", "htcondor")
TRAINING_RULES = ("benchmark_train", "cms_train", "higgsml_train")
CONFIGS = {"default": [], "inferno_benchmark_quick": ["--configfile", "config/inferno_benchmark_quick.yaml"]}
# what the Slurm jobs of the dry runs are told to use (profiles/slurm reads them from the environment)
SLURM_ENV = {"SBATCH_ACCOUNT": "ci", "SBATCH_PARTITION": "debug"}


def rule_blocks() -> dict[str, str]:
    """``{rule name: its text}`` for every ``rule``/``checkpoint`` of workflow/rules/*.smk."""
    blocks: dict[str, str] = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        name, lines = None, []
        for line in path.read_text().splitlines() + ["<end>"]:
            if line and not line[0].isspace() and not line.startswith("#"):  # a top-level statement
                if name:
                    blocks[name] = "\n".join(lines)
                m = re.match(r"(rule|checkpoint) (\w+):", line)
                name, lines = (m.group(2), []) if m else (None, [])
            elif name:
                lines.append(line)
    return blocks


def declared_resources(block: str) -> dict[str, str]:
    """The ``resources:`` entries of one rule, as written (``{"mem_mb": "4000", ...}``)."""
    m = re.search(r"^    resources:\n((?:        .*\n?|\s*#.*\n?)+)", block, re.M)
    if not m:
        return {}
    return dict(re.findall(r"^        (\w+)=([^,\n]+),?", m.group(1), re.M))


def test_every_rule_declares_threads_and_resources():
    blocks = rule_blocks()
    assert len(blocks) >= 20 and set(TRAINING_RULES) <= set(blocks), sorted(blocks)
    problems = []
    for name, block in blocks.items():
        if not re.search(r"^    threads: \S", block, re.M):
            problems.append(f"{name}: no threads")
        res = declared_resources(block)
        for key in ("mem_mb", "runtime"):
            if not res.get(key, "").isdigit() or int(res[key]) <= 0:
                problems.append(f"{name}: resources.{key} missing or not a positive integer: {res}")
        if name in TRAINING_RULES and res.get("gpu") != "0":
            problems.append(f"{name}: training rule without gpu=0: {res}")
    assert problems == []


def test_htcondor_profile_asks_for_each_rules_memory():
    """HTCondor's plugin ignores mem_mb: profiles/htcondor copies it into htcondor_request_mem_mb."""
    profile = yaml.safe_load((REPO / "profiles" / "htcondor" / "config.v8+.yaml").read_text())
    default = profile["default-resources"]["htcondor_request_mem_mb"]
    per_rule = profile.get("set-resources", {})
    blocks = rule_blocks()
    assert set(per_rule) <= set(blocks), set(per_rule) - set(blocks)
    asked = {name: per_rule.get(name, {}).get("htcondor_request_mem_mb", default) for name in blocks}
    declared = {name: int(declared_resources(block)["mem_mb"]) for name, block in blocks.items()}
    assert asked == declared


def test_default_profile_sets_nothing_a_cluster_profile_sets():
    """profiles/default is read on every run and wins over --profile: a key in both would
    silently replace the cluster profile's (default-resources as a whole, slurm_account too)."""
    def keys(name):
        return set(yaml.safe_load((REPO / "profiles" / name / "config.v8+.yaml").read_text()))

    for cluster in ("slurm", "htcondor"):
        assert keys("default") & keys(cluster) <= {"printshellcmds", "rerun-incomplete"}
    assert not keys("default") & {"cores", "default-resources", "set-resources", "set-threads", "jobs"}


def _dry_run(profile: str, *options: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--nolock", "--profile", f"profiles/{profile}", *options,
         "--config", f"results_dir={tmp_path / 'results'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env() | SLURM_ENV,
    )


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("profile", PROFILES)
def test_dry_run_through_profile(profile, config, tmp_path):
    res = _dry_run(profile, *CONFIGS[config], tmp_path=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert f"profiles/{profile}" in out
    listed = [j for j in jobs(out) if j["rule"] != "all"]
    assert len(listed) >= 10, out[-3000:]
    for job in listed:
        res_ = job["resources"]
        assert isinstance(res_.get("mem_mb"), int) and isinstance(res_.get("runtime"), int), job
        if job["rule"] in TRAINING_RULES:
            assert res_["gpu"] == 0, job
        if profile == "slurm":
            assert (res_["slurm_account"], res_["slurm_partition"]) == ("ci", "debug"), job
        if profile == "htcondor":
            assert res_["htcondor_request_mem_mb"] == res_["mem_mb"] and res_["getenv"] == "True", job
        if profile == "default":
            assert not any(k.startswith(("slurm_", "htcondor_")) for k in res_), job
    assert any(j["rule"] in TRAINING_RULES for j in listed)


@pytest.mark.slow
def test_gpu_and_threads_reach_the_training_jobs(tmp_path):
    res = _dry_run("slurm", "--configfile", "config/inferno_benchmark_quick.yaml", "--cores", "8",
                   "--set-resources", "benchmark_train:gpu=1", "benchmark_train:gpu_model=a100",
                   "--set-threads", "benchmark_train=4", tmp_path=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    train = [j for j in jobs(out) if j["rule"] == "benchmark_train"]
    assert train and all(j["resources"]["gpu"] == 1 and j["threads"] == 4 for j in train), train
    others = [j for j in jobs(out) if j["rule"] not in ("benchmark_train", "all")]
    assert others and all(j["resources"].get("gpu", 0) == 0 for j in others)


def test_slurm_plugin_turns_gpu_into_sbatch_gpus():
    utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")

    class Resources(dict):
        __getattr__ = dict.__getitem__

    def gres(**res):
        return utils.set_gres_string(SimpleNamespace(resources=Resources(res), threads=1))

    assert gres(gpu=0) == ""
    assert gres(gpu=1).strip() == "--gpus=1"
    assert gres(gpu=2, gpu_model="a100").strip() == "--gpus=a100:2"
