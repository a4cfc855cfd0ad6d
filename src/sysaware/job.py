"""What every stage script does as a (Snakemake) job: fail in one line, and stop with its Snakemake.

* :func:`install_failure_hook`: an uncaught exception ends the script with status 1; the
  traceback goes to stderr (the rule's log), then one ``ERROR`` line that names the culprit
  (the message of a :class:`~sysaware.errors.SysawareError`, which names the file,
  histogram, branch, sample or key; for any other exception its type and message with the
  script's command line, i.e. its inputs).  When stderr is redirected (a Snakemake job), the
  same line goes to stdout too, which Snakemake shows in the terminal beside its own
  "Error in rule" block.
* :func:`stop_with_snakemake`: a job whose Snakemake is killed (kill -9 leaves its jobs
  running) stops within a few seconds instead of writing outputs that nobody waits for; its
  outputs are written through temporary names (:mod:`sysaware.io`), so nothing half-written
  remains.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType

from .errors import SysawareError

log = logging.getLogger("sysaware")

#: how often the parent watch looks, and how long it waits for a clean stop before exiting hard
WATCH_INTERVAL_S = 2.0
GRACE_S = 20.0


def failure_line(err: BaseException, argv: list[str] | None = None) -> str:
    """The one line that reports ``err``: its message when it names its culprit, else type, message and command."""
    script = Path((argv or sys.argv)[0]).name
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, SysawareError):
        return f"{script}: {text}"
    command = " ".join((argv or sys.argv)[1:])
    return f"{script} {command}: {type(err).__name__}: {text}"


def _report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
    line = failure_line(exc)
    log.error("%s", line)
    if not sys.stderr.isatty():
        print(f"ERROR {line} (traceback in the rule's log)", file=sys.stdout, flush=True)


def install_failure_hook() -> None:
    """Report uncaught exceptions as traceback (log) + one ERROR line; exit status 1 (Python's own)."""
    sys.excepthook = _report


def _start_time(pid: int) -> str | None:
    """Start time of a live process ``pid`` (None: gone, or a zombie waiting to be reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if len(fields) < 20 or fields[0] in ("Z", "X") else fields[19]


def _parent_pid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def snakemake_ancestor(max_depth: int = 3) -> int | None:
    """Pid of the nearest Snakemake process among this process's parents (None: not a Snakemake job,
    or not Linux).  Jobs run as ``snakemake -> shell -> python`` locally, ``snakemake (job step) -> ...``
    on a cluster node."""
    pid = os.getppid()
    for _ in range(max_depth):
        if pid <= 1:
            return None
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if any(Path(part.decode(errors="replace")).name == "snakemake" or part == b"snakemake" for part in cmd[:3]):
            return pid
        pid = _parent_pid(pid)
    return None


class JobStopped(SysawareError):
    """The job was told to stop (SIGTERM from Snakemake or the batch system, or its Snakemake is gone)."""


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise JobStopped(_stop_reason or f"stopped by signal {signal.Signals(signum).name}")


_stop_reason = ""


def stop_with_snakemake() -> None:
    """Stop cleanly on SIGTERM (raise :class:`JobStopped` in the main thread, so ``finally`` blocks
    remove temporary outputs), and send it to ourselves when this job's Snakemake process goes
    away; exit hard after :data:`GRACE_S` if the main thread does not stop.  Call from the main thread."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    pid = snakemake_ancestor()
    if pid is None:
        return
    started = _start_time(pid)

    def watch() -> None:
        global _stop_reason
        while _start_time(pid) == started:
            time.sleep(WATCH_INTERVAL_S)
        _stop_reason = (f"the Snakemake process that started this job (pid {pid}) is gone; "
                        "stopped so that no orphaned job writes outputs")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="snakemake-watch", daemon=True).start()
