"""The paper table (JSON, Markdown, figure) from the evaluations of every trained model."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from sysaware.benchmark.pipeline import (
    crosscheck_summary,
    optimal_classifier_row,
    paper_table,
    plot_table,
    table_markdown,
)
from sysaware.cli_util import load_run_config, setup
from sysaware.io import atomic_write_text, write_json

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--config", required=True)
ap.add_argument("--reference", required=True, help="inferno_paper_table.json")
ap.add_argument("--data", required=True, help="events .npz (its test split scores the optimal classifier)")
ap.add_argument("--evals", nargs="+", required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--md", required=True)
ap.add_argument("--png", required=True)
a = ap.parse_args()
log = setup()
results: dict[str, list[list[float]]] = defaultdict(list)
evals = []
for path in a.evals:
    with open(path) as fh:
        evals.append(json.load(fh))
    results[evals[-1]["method"]].append(evals[-1]["sqrt_var_s"])
with open(a.reference) as fh:
    reference = json.load(fh)
cfg = load_run_config(a.config)
with np.load(a.data) as f:
    test = {k: f[k] for k in ("xs_test", "xb_test")}
table = paper_table(cfg, dict(results), reference, crosscheck_summary(evals), optimal_classifier_row(cfg, test))
plot_table(table, a.png)
atomic_write_text(a.md, table_markdown(table))
write_json(a.json, table)
log.info("\n%s", table_markdown(table))
