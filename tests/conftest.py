"""Shared fixtures: repository paths and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
