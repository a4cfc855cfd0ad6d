"""What produced a result: package versions and the git commit, stored with the outputs."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "sysaware", "torch", "numpy", "scipy", "snakemake", "uproot", "awkward", "coffea",
    "hist", "pyhf", "cabinetry", "iminuit", "mplhep",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the results depend on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(repo: str | Path = ".") -> str:
    """HEAD commit (with '-dirty' when the tree has changes), or 'unknown' outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")
