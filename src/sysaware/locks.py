"""Exclusive advisory locks (``flock``) that a live process holds and a killed one cannot leave behind.

The kernel releases an ``flock`` when its holder exits, kill -9 included, so a held lock
always means a live holder.  The lock file records the holder's pid and command line, so the
refusal can name it.  Used for a training's checkpoint (one writer per model) and for the
workflow folder (one Snakemake run at a time, see the Snakefile).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import SysawareError


class LockHeldError(SysawareError, RuntimeError):
    """Another live process holds the lock; the message names it and what it protects."""


@dataclass(frozen=True)
class Lock:
    """A held lock: its file and open descriptor (released by :func:`release`, or at exit)."""

    path: Path
    fd: int


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "unknown process"
    return text or "unknown process"


def acquire(path: str | os.PathLike[str], what: str) -> Lock:
    """Take the exclusive lock on ``path`` (created if absent) without waiting.

    Raises:
        LockHeldError: a live process holds it; the message names ``what`` is protected, the
            lock file and the holder's pid and command.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(f"{what} is held by a live process ({_holder(path)}; lock file {path})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its previous holder unlinked while we opened it
            break
        os.close(fd)
    record = f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)[:300]}\n"
    os.ftruncate(fd, 0)
    os.write(fd, record.encode())
    return Lock(path, fd)


def holder(path: str | os.PathLike[str]) -> str | None:
    """Who holds the lock on ``path`` (pid, start and command), or None when nobody does."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(path)
    finally:
        os.close(fd)
    return None


def release(lock: Lock) -> None:
    """Remove the lock file and release the lock."""
    try:
        lock.path.unlink(missing_ok=True)
    finally:
        os.close(lock.fd)


@contextmanager
def held(path: str | os.PathLike[str], what: str) -> Iterator[Lock]:
    """:func:`acquire` for the duration of a block."""
    lock = acquire(path, what)
    try:
        yield lock
    finally:
        release(lock)
