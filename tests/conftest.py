"""Shared fixtures: repository paths and the shared data folder (helpers shared by test modules: helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from helpers import REPO, SHARED

# the same examples on every run (CI included): a failure is reproducible, never a lottery
settings.register_profile("sysaware", derandomize=True)
settings.load_profile("sysaware")


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (where the Snakefile is)."""
    return REPO


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """../shared/reference, or $SYSAWARE_SHARED/reference; skip where absent."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"shared reference folder {ref} not found (set SYSAWARE_SHARED)")
    return ref
