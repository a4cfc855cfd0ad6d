"""Shared plumbing of the thin scripts in scripts/: logging, config loading, threads."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .job import install_failure_hook, stop_with_snakemake


def setup(threads: int | None = None) -> logging.Logger:
    """Log to stderr (the rule's log file), report a failure in one line (traceback in the log),
    stop when the job's Snakemake is killed (:mod:`sysaware.job`), and pin torch's thread count."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    install_failure_hook()
    stop_with_snakemake()
    if threads:
        import torch  # here: scripts without torch (setup() without threads) start faster

        torch.set_num_threads(int(threads))
    return logging.getLogger("sysaware")


def load_run_config(path: str | Path) -> dict[str, Any]:
    """The validated run config written by the ``run_config`` rule."""
    with open(path) as fh:
        blob = json.load(fh)
    return blob["config"]


def config_parser(doc: str | None) -> argparse.ArgumentParser:
    """Argument parser of a stage script: its docstring as help, and --config (the run config JSON)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="run config JSON (rule run_config)")
    return ap


def run_parser(doc: str | None) -> argparse.ArgumentParser:
    """Argument parser with the options every benchmark stage shares: --config, --data, --threads."""
    ap = config_parser(doc)
    ap.add_argument("--data", required=True, help="events .npz (rule benchmark_data)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    return ap


def load_events(path: str | Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an events .npz (all, or ``keys``), read fully and the file closed."""
    with np.load(path) as f:
        return {k: f[k] for k in (keys if keys is not None else f.files)}


def add_training_outputs(ap: argparse.ArgumentParser) -> None:
    """--out (model .pt), --history (losses JSON) and --checkpoint of a training script."""
    ap.add_argument("--out", required=True, help="output model .pt (state dict + metadata)")
    ap.add_argument("--history", required=True, help="output JSON: losses per epoch")
    ap.add_argument("--checkpoint", help="per-epoch checkpoint, resumed after a kill (default: OUT.ckpt)")


def checkpoint_path(args: argparse.Namespace) -> str:
    """The checkpoint file of a training script: --checkpoint, or the model path + '.ckpt'."""
    return args.checkpoint or f"{args.out}.ckpt"
