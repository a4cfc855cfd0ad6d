"""One Snakemake run at a time per results folder, and a clear word about locks a killed run left.

Snakemake's own lock (``.snakemake/locks``) is a set of plain files: a run killed with
kill -9 leaves them behind, and two runs started together can crash in its check
(``FileNotFoundError: .snakemake/locks/0.input.lock``).  Every executing Snakemake run of
this workflow therefore holds an ``flock`` on ``<results>/.snakemake-run.lock``
(:mod:`sysaware.locks`), which the kernel releases when the run ends, however it ends:

* a second run on the same results folder stops at once, naming the live run (pid, command);
* when no live run holds the folder but Snakemake's lock files name files in it, they were
  left by a killed run: the warning says so and what to do (``snakemake --unlock``, then
  rerun with ``--rerun-incomplete``).

Dry runs, ``--report``, ``--unlock`` and the other commands that only read take no lock;
nor does a run with ``--nolock``, nor the job-step processes Snakemake starts on a cluster.
The Snakefile calls :func:`guard_results_folder` when it is parsed (no job has run yet).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from .locks import Lock, LockHeldError, acquire, holder, release

LOCK_NAME = ".snakemake-run.lock"
#: long options of commands that run no job (Snakemake 9)
READ_ONLY = {
    "--dry-run", "--dryrun", "--report", "--unlock", "--list", "--list-rules", "--list-target-rules",
    "--summary", "--detailed-summary", "--lint", "--dag", "--rulegraph", "--filegraph", "--d3dag",
    "--list-changes", "--lc", "--list-input-changes", "--li", "--list-params-changes", "--lp",
    "--list-code-changes", "--list-untracked", "--lu", "--cleanup-metadata", "--cm", "--containerize",
    "--export-cwl", "--print-compilation", "--archive", "--generate-unit-tests", "--help", "-h",
    "--version", "-v", "--nolock",
}


def read_only(argv: Sequence[str]) -> bool:
    """True when the Snakemake command line ``argv`` runs no job (dry run, report, unlock...) or
    asks for no lock (``--nolock``)."""
    for arg in argv[1:]:
        if arg.split("=", 1)[0] in READ_ONLY:
            return True
        if re.fullmatch(r"-[A-Za-z]+", arg) and "n" in arg and arg[1] not in "cjs":  # -n, -np, -pn
            return True
    return False


def stale_snakemake_locks(results: str | os.PathLike[str], lockdir: str | os.PathLike[str] = ".snakemake/locks") -> list[Path]:
    """Snakemake lock files in ``lockdir`` that name a file under ``results``."""
    folder = os.path.abspath(results)
    out = []
    for path in sorted(Path(lockdir).glob("*.lock")):
        try:
            names = path.read_text().split("\n")
        except OSError:
            continue
        if any(n and os.path.abspath(n).startswith(folder + os.sep) for n in names):
            out.append(path)
    return out


def guard_results_folder(results: str | os.PathLike[str], main_process: bool, argv: Sequence[str],
                         log: logging.Logger | logging.LoggerAdapter) -> Lock | None:
    """Hold the results folder for this run (the returned lock lives as long as the process).

    Raises:
        LockHeldError: another live run holds ``results``; the message names it.
    """
    if not main_process:
        return None
    path = Path(results) / LOCK_NAME
    if read_only(argv):
        if (who := holder(path)) is not None:
            log.info(f"note: a Snakemake run is working on {results} ({who}); this command only reads")
        return None
    previous = path.read_text().strip() if path.exists() else ""
    try:
        lock = acquire(path, f"results folder {results}")
    except LockHeldError as err:
        raise LockHeldError(f"another Snakemake run is working on this results folder: {err}. Wait for it to "
                            "finish, or stop it; two runs would write the same files") from None
    atexit.register(release, lock)  # a run that ends, however it fails, leaves no lock file; a killed one does
    stale = stale_snakemake_locks(results)
    if stale:
        last = f" (the last run: {previous})" if previous else ""
        log.warning(
            f"Snakemake's lock files {', '.join(map(str, stale))} name files in {results}, but no live run "
            f"holds that folder: they were left by a run that was killed{last}. Its jobs stopped with it "
            "(sysaware.job). Remove the locks with `snakemake --unlock` (with the same --configfile), then "
            "rerun with `--rerun-incomplete`; see docs/reliability.md"
        )
    return lock
