"""Shared plumbing of the thin scripts in scripts/: logging, config loading, threads."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch


def setup(threads: int | None = None) -> logging.Logger:
    """Log to stderr (the rule's log file) and pin torch's thread count."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if threads:
        torch.set_num_threads(int(threads))
    return logging.getLogger("sysaware")


def load_run_config(path: str | Path) -> dict[str, Any]:
    """The validated run config written by the ``run_config`` rule."""
    with open(path) as fh:
        blob = json.load(fh)
    return blob["config"]
