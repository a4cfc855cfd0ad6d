"""Interrupted, concurrent and partial runs (issue 15, item 4): a second run on the same results folder
is refused naming the first, kill -9 of Snakemake stops its jobs (nothing half-written, the checkpoint
kept), the locks it leaves are explained and the rerun resumes, a second writer of one model is
refused, and a report is written after a partial run.  (A deleted result is rebuilt: test_workflow.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import REPO, SHARED, assert_failed_cleanly, snakemake_env, tiny_config
from sysaware.config import ConfigError, load_config
from sysaware.job import JobStopped, failure_line
from sysaware.locks import LockHeldError, acquire, holder, release
from sysaware.run_guard import read_only, stale_snakemake_locks



def _snakemake(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=snakemake_env())


def _config(folder: Path, **changes) -> Path:
    cfg = tiny_config("benchmark_tiny", folder / "results") | {"reference_dir": str(SHARED / "reference")}
    cfg["benchmark"] = cfg["benchmark"] | {"n_repeats": 1}
    for key, value in changes.items():
        cfg[key] = cfg.get(key, {}) | value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _jobs_of(folder: Path) -> list[int]:
    """Pids of the stage scripts (python scripts/...) working on ``folder``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "/scripts/" in cmd and str(folder) in cmd and not cmd.startswith("/bin/bash") and "bash\0-c" not in cmd:
            pids.append(int(proc.name))
    return pids


def _default_sigint() -> None:
    """In a child: Ctrl-C (SIGINT) acts, even where this test runs with it ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


# ------------------------------------------------------------------------ report


@pytest.mark.workflow
def test_report_after_a_partial_run_holds_what_exists_and_lists_what_is_missing(tmp_path):
    config = _config(tmp_path)
    out = tmp_path / "results" / "inferno_benchmark"
    part = _snakemake(str(out / "config.json"), "--cores", "1", "--configfile", str(config))
    assert part.returncode == 0, part.stderr[-3000:]
    report = _snakemake("--report", str(tmp_path / "report.html"), "--configfile", str(config))
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert "result files do not exist yet and are left out of the report" in report.stderr
    assert str(out / "paper_table.json") in report.stderr and str(out / "config.json\n") not in report.stderr


# ------------------------------------------------------------- concurrent runs, kill -9


@pytest.mark.workflow
def test_concurrent_run_refused_kill_9_stops_the_jobs_and_the_rerun_resumes(tmp_path):
    """A training that would run for hours: a second run, a dry run and a second writer meet it;
    then Snakemake is killed, its job stops, the next run explains the left-over locks, and after
    ``--unlock`` the training resumes from its checkpoint (then that run is stopped with Ctrl-C,
    and leaves nothing half-written either)."""
    config = str(_config(tmp_path, benchmark={"n_train": 4000}, training={"epochs": 100_000, "patience": 100_000},
                         methods={"inferno": {"trained_under": []}}))
    out = tmp_path / "results" / "inferno_benchmark"
    model = out / "models" / "bce" / "repeat0.pt"
    ckpt = Path(f"{model}.ckpt")
    log = out / "logs" / "train" / "bce_repeat0.log"

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "snakemake", str(model), "--cores", "1", "--configfile",
                                 config], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=snakemake_env(), start_new_session=True, preexec_fn=_default_sigint)

    first = start()
    try:
        _wait(ckpt.exists, 180, "the first epoch's checkpoint")
        second = _snakemake(str(model), "--cores", "1", "--configfile", config)
        assert second.returncode != 0
        assert "another Snakemake run is working on this results folder" in second.stderr, second.stderr[-3000:]
        assert f"pid {first.pid} " in second.stderr and str(out / ".snakemake-run.lock") in second.stderr
        dry = _snakemake(str(model), "-n", "--configfile", config)
        assert dry.returncode == 0 and f"a Snakemake run is working on {out} (pid {first.pid} " in dry.stdout + dry.stderr

        # a second writer of the same model (what an orphaned job of a killed run would be)
        writer = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "benchmark_train.py"), "--config", str(out / "config" / "train" / "bce.json"),
             "--data", str(out / "data" / "mixture.npz"), "--method", "bce", "--repeat", "0",
             "--out", str(model), "--history", str(tmp_path / "history.json")],
            capture_output=True, text=True, timeout=300, env=snakemake_env())
        line = assert_failed_cleanly(writer, None, f"checkpoint {ckpt} is held by a live process (pid ")
        assert "lock file" in line and not model.exists()

        jobs = _jobs_of(out)
        assert len(jobs) == 1, jobs
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
        _wait(lambda: not _jobs_of(out), 40, "the orphaned training job to stop")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    lines = log.read_text().strip().splitlines()
    assert f"the Snakemake process that started this job (pid {first.pid}) is gone" in lines[-1]
    assert ckpt.exists() and not model.exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]

    stale = _snakemake(str(model), "--cores", "1", "--configfile", config)
    assert stale.returncode != 0 and "LockException" in stale.stderr
    assert "they were left by a run that was killed (the last run: pid " f"{first.pid} " in stale.stderr
    assert "snakemake --unlock" in stale.stderr
    unlock = _snakemake(str(model), "--unlock", "--configfile", config)
    assert unlock.returncode == 0, unlock.stderr[-3000:]

    rerun = start()
    try:
        _wait(lambda: log.exists() and "resumed from checkpoint" in log.read_text(), 180, "the resumed training")
        os.killpg(rerun.pid, signal.SIGINT)  # Ctrl-C in its terminal: Snakemake and its jobs stop
        rerun.wait(60)
    finally:
        if rerun.poll() is None:
            os.killpg(rerun.pid, signal.SIGKILL)
    _wait(lambda: not _jobs_of(out), 40, "the training to stop")
    assert f"resumed from checkpoint {ckpt} after epoch " in log.read_text()
    assert ckpt.exists() and not model.exists() and not (out / ".snakemake-run.lock").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------------------- units


def test_read_only_commands_take_no_lock():
    for argv in (["-n"], ["--dry-run"], ["-np"], ["--report", "r.html"], ["--report=r.html"], ["--unlock"],
                 ["--nolock", "--cores", "2"], ["--list-rules"], ["--dag"]):
        assert read_only(["snakemake", *argv]), argv
    for argv in (["--cores", "2"], ["-c2"], ["-j", "4"], ["--profile", "profiles/slurm"], ["target.json"]):
        assert not read_only(["snakemake", *argv]), argv


def test_stale_snakemake_locks_are_those_naming_the_results_folder(tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "0.input.lock").write_text(f"{tmp_path}/results/a/config.json\n{tmp_path}/other.txt\n")
    (locks / "1.output.lock").write_text(f"{tmp_path}/results/b/x.json\n")
    assert stale_snakemake_locks(tmp_path / "results" / "a", locks) == [locks / "0.input.lock"]
    assert stale_snakemake_locks(tmp_path / "results" / "c", locks) == []


def test_a_lock_names_its_live_holder_and_a_dead_one_holds_nothing(tmp_path):
    path = tmp_path / "x.lock"
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from sysaware.locks import acquire; "
            "acquire(sys.argv[1], 'x'); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(REPO / "src")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder(path).startswith(f"pid {proc.pid} since ")
        with pytest.raises(LockHeldError, match=rf"x is held by a live process \(pid {proc.pid} since .*lock file {path}\)"):
            acquire(path, "x")
    finally:
        proc.kill()
        proc.wait()
    assert holder(path) is None  # killed: the kernel released it, the file stayed
    lock = acquire(path, "x")
    release(lock)
    assert not path.exists()


def test_failure_line_names_the_culprit():
    assert failure_line(ConfigError("refit.fits.a: bad\n  bounds"), ["scripts/fit.py"]) == "fit.py: refit.fits.a: bad bounds"
    line = failure_line(IndexError("boolean index did not match"), ["/x/fit.py", "results", "--workspace", "w.json"])
    assert line == "fit.py results --workspace w.json: IndexError: boolean index did not match"
    assert failure_line(JobStopped("stopped by signal SIGTERM"), ["a.py"]) == "a.py: stopped by signal SIGTERM"


def test_an_empty_config_file_is_named(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(ConfigError, match=f"config file {path} is empty"):
        load_config(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=f"config file {path}: top level must be a mapping of keys, not a list"):
        load_config(path)
