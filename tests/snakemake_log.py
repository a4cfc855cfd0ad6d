"""Reading Snakemake's job listing, as printed by a dry run (-n) and by a run's log: the rule,
job id, threads and resources of every job, and the Slurm job ids the slurm executor reports."""

from __future__ import annotations

import re

# "rule fit_results:", "checkpoint benchmark_fit_inputs:", "localrule run_config:"
JOB_HEADER = re.compile(r"^(local)?(rule|checkpoint) (\w+):$")
SLURM_SUBMISSION = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


def _value(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def parse_resources(text: str) -> dict[str, int | str]:
    """``"tmpdir=/tmp, mem_mb=2000, mem=2 GB"`` -> ``{"tmpdir": "/tmp", "mem_mb": 2000, "mem": "2 GB"}``."""
    out: dict[str, int | str] = {}
    for item in text.split(", "):
        key, _, value = item.partition("=")
        out[key.strip()] = _value(value.strip())
    return out


def jobs(text: str) -> list[dict]:
    """Every job block of a Snakemake listing: ``{"rule", "local", "jobid", "threads", "resources"}``
    (threads are printed only when above 1, so 1 is the default)."""
    out: list[dict] = []
    current: dict | None = None
    for line in text.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            current = {"rule": header.group(3), "local": bool(header.group(1)), "jobid": None,
                       "threads": 1, "resources": {}}
            out.append(current)
            continue
        if current is None:
            continue
        if not line.startswith("    "):  # the block ends with the first unindented line
            current = None
            continue
        key, _, value = line.strip().partition(": ")
        if key == "jobid":
            current["jobid"] = int(value)
        elif key == "threads":
            current["threads"] = int(value)
        elif key == "resources":
            current["resources"] = parse_resources(value)
    return out


def slurm_submissions(text: str) -> dict[int, int]:
    """``{Snakemake job id: Slurm job id}`` of every job the slurm executor submitted."""
    return {int(job): int(slurm) for job, slurm in SLURM_SUBMISSION.findall(text)}
