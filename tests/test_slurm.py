"""The workflow through a real Slurm scheduler with profiles/slurm (snakemake-executor-plugin-slurm).

Needs a Slurm cluster with accounting: the single-node one of .ci/slurm (`bash .ci/slurm/install.sh`;
this test runs .ci/slurm/start.sh itself when the controller does not answer, and stops the
cluster again afterwards if it started it). Account and partition: $SLURM_CI_ACCOUNT and
$SLURM_CI_PARTITION (defaults ci and debug, those of .ci/slurm). Where Slurm is not installed the
test is skipped, unless SYSAWARE_REQUIRE_SLURM=1 (set by .ci/run): then it fails.

A tiny INFERNO benchmark run (data -> INFERNO training -> evaluation, and workspace checkpoint ->
fit) goes through sbatch, and the same configuration runs locally. Checked:
- sacct lists every job of the run (job name = the run's UUID) as COMPLETED, with the rule in its
  comment, one per cluster job of the run; its memory, time limit and CPUs are the rule's
  mem_mb, runtime (minutes) and threads;
- every result file holds the same numbers as the local run's (sysaware.digest content hashes).
  Both runs train with the config's threads (1) per job, the Slurm job's --cpus-per-task, so
  the torch computations are the same, and the outputs are bit-identical, not just close.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import snakemake_env, tiny_config
from snakemake_log import jobs, slurm_submissions
from sysaware.digest import digest_tree

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

ACCOUNT = os.environ.get("SLURM_CI_ACCOUNT", "ci")
PARTITION = os.environ.get("SLURM_CI_PARTITION", "debug")

METHOD = "inferno_bm3"
# the workflow test's tiny benchmark, one repeat
TINY = tiny_config("benchmark_tiny")
TINY["benchmark"]["n_repeats"] = 1
TINY["methods"]["aware"] = {"enabled": False}  # the Slurm test runs the five jobs of bce and INFERNO only
# the INFERNO model's evaluation and its fit (the checkpoint that builds the workspace, then the fit)
TARGETS = (f"eval/{METHOD}/repeat0.json", f"fit/{METHOD}/fit_results.json")
# what must go through the scheduler (the config slices of stage_config are local)
CLUSTER_JOBS = {"benchmark_data": 1, "benchmark_train": 1, "benchmark_evaluate": 1,
                "benchmark_fit_inputs": 1, "fit_results": 1}


def _unavailable(reason: str) -> None:
    if os.environ.get("SYSAWARE_REQUIRE_SLURM") == "1":
        pytest.fail(f"{reason} (SYSAWARE_REQUIRE_SLURM=1: the Slurm test must run here)")
    pytest.skip(reason)


def _controller_up() -> bool:
    try:
        res = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0 and "UP" in res.stdout


@pytest.fixture(scope="module")
def slurm_cluster(repo):
    """A Slurm controller that answers; started with .ci/slurm/start.sh where needed."""
    if shutil.which("sinfo") is None:
        _unavailable("Slurm is not installed (no sinfo); bash .ci/slurm/install.sh installs it")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        _unavailable("snakemake-executor-plugin-slurm is not installed (scripts/setup.sh installs it)")
    started = False
    if not _controller_up():
        res = subprocess.run(["bash", str(repo / ".ci" / "slurm" / "start.sh")],
                             capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            _unavailable(f".ci/slurm/start.sh failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
        started = True
    yield
    if started:
        subprocess.run(["bash", str(repo / ".ci" / "slurm" / "stop.sh")], capture_output=True, timeout=300)


def _snakemake(repo: Path, folder: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the tiny config into ``folder/results``; output in ``folder/snakemake.log``."""
    cfg = TINY | {"results_dir": str(folder / "results")}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = folder / "results" / "inferno_benchmark"
    with open(folder / "snakemake.log", "w") as log:
        # the targets first: --configfile takes several values
        return subprocess.Popen(
            [sys.executable, "-m", "snakemake", *(str(out / t) for t in TARGETS), "--nolock", *options,
             "--configfile", str(path)],
            cwd=repo, stdout=log, stderr=subprocess.STDOUT, text=True, env=env or snakemake_env(),
        )


def _finish(proc: subprocess.Popen, folder: Path) -> str:
    """Wait for a run started by _snakemake; its log, which must report success."""
    try:
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (folder / "snakemake.log").read_text()
    assert proc.returncode == 0, log[-6000:]
    return log


def _minutes(timelimit: str) -> int | None:
    """sacct's Timelimit ([D-]HH:MM:SS) in minutes; None for anything else (UNLIMITED, Partition_Limit)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+):(\d+)", timelimit)
    if not m:
        return None
    days, h, mins, s = (int(x or 0) for x in m.groups())
    return days * 1440 + h * 60 + mins + (s > 0)


def _sacct(run_id: str, expected: int) -> list[dict[str, str]]:
    """The run's jobs in the accounting database (job name = run UUID), once all have reached it."""
    fields = ["JobID", "JobName", "Comment", "State", "ReqMem", "Timelimit", "AllocCPUS", "Account", "Partition"]
    deadline = time.monotonic() + 60
    while True:
        res = subprocess.run(["sacct", "-X", "-P", "-n", f"--name={run_id}", "-S", "now-1days",
                              "-o", ",".join(fields)], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        rows = [dict(zip(fields, line.split("|"))) for line in res.stdout.splitlines() if line.strip()]
        done = [r for r in rows if r["State"] not in ("PENDING", "RUNNING", "COMPLETING")]
        if len(done) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(2)


def test_tiny_benchmark_through_slurm_equals_local_run(repo, tmp_path, slurm_cluster):
    env = snakemake_env() | {"SBATCH_ACCOUNT": ACCOUNT, "SBATCH_PARTITION": PARTITION}
    cluster = _snakemake(
        repo, tmp_path / "slurm", "--profile", "profiles/slurm",
        # a test cluster on this machine: first sacct poll after 2 s (the profile's 40 s suits
        # a busy cluster), outputs appear at once, a failure fails the test at once
        "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5", "--retries", "0",
        "--slurm-logdir", str(tmp_path / "slurm_logs"), env=env,
    )
    # the local run of the same config meanwhile (the Slurm run mostly waits for sacct polls);
    # one core, the other is the Slurm node's
    local = _snakemake(repo, tmp_path / "local", "--cores", "1")
    log = _finish(cluster, tmp_path / "slurm")
    _finish(local, tmp_path / "local")

    # (a) through the scheduler: every cluster job of the log is a COMPLETED Slurm job of this run
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    listed = {j["jobid"]: j for j in jobs(log)}
    submitted = slurm_submissions(log)
    assert collections.Counter(listed[j]["rule"] for j in submitted) == CLUSTER_JOBS, log[-4000:]
    assert {j["rule"] for j in listed.values() if j["local"]} == {"stage_config"}
    rows = _sacct(run_id, len(submitted))
    print("sacct:", *("|".join(r.values()) for r in rows), sep="\n  ")
    assert sorted(int(r["JobID"]) for r in rows) == sorted(submitted.values())
    by_slurm_id = {int(r["JobID"]): r for r in rows}
    rules = collections.Counter()
    for job, slurm_id in submitted.items():
        row, spec = by_slurm_id[slurm_id], listed[job]
        assert row["State"] == "COMPLETED", row
        # the plugin's --comment: rule_<rule>, then _wildcards_<values> where the rule has some
        rule = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", row["Comment"]).group(1)
        assert rule == spec["rule"], (row, spec)
        rules[rule] += 1
        assert (row["Account"], row["Partition"]) == (ACCOUNT, PARTITION)
        # resources of the rule, as sbatch got them: --mem, -t (minutes), --cpus-per-task
        assert row["ReqMem"] == f"{spec['resources']['mem_mb']}M", (row, spec)
        assert _minutes(row["Timelimit"]) == spec["resources"]["runtime"], (row, spec)
        assert int(row["AllocCPUS"]) == spec["threads"], (row, spec)
    assert rules == CLUSTER_JOBS

    # (b) the same numbers as the local run of the same config
    ours = digest_tree(tmp_path / "slurm" / "results" / "inferno_benchmark")
    theirs = digest_tree(tmp_path / "local" / "results" / "inferno_benchmark")
    for kind in ("data/mixture.npz", f"models/{METHOD}/repeat0.pt", f"eval/{METHOD}/repeat0.json",
                 f"fit/{METHOD}/workspace.json", f"fit/{METHOD}/fit_results.json"):
        assert kind in ours, sorted(ours)
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    assert differ == []
