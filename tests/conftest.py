"""Shared fixtures: repository paths and the shared data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# the same examples on every run (CI included): a failure is reproducible, never a lottery
settings.register_profile("sysaware", derandomize=True)
settings.load_profile("sysaware")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (where the Snakefile is)."""
    return REPO


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """../shared/reference, or $SYSAWARE_SHARED/reference; skip where absent."""
    base = Path(os.environ.get("SYSAWARE_SHARED", REPO.parent / "shared"))
    ref = base / "reference"
    if not ref.is_dir():
        pytest.skip(f"shared reference folder {ref} not found (set SYSAWARE_SHARED)")
    return ref


SHARED_DATA = Path(os.environ.get("SYSAWARE_SHARED", REPO.parent / "shared")) / "data"


def shared_data(name: str) -> Path:
    """A file of ../shared/data (or $SYSAWARE_SHARED/data); skip the test where it is absent (a user's clone)."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared data file {path} not found (set SYSAWARE_SHARED to the folder holding data/)")
    return path


def snakemake_env() -> dict[str, str]:
    """Environment for a Snakemake subprocess: the rules' `python` is this interpreter, venv activated or not."""
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
