"""The paper table (JSON, Markdown, figure) from the evaluations of every trained model."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from sysaware.benchmark.pipeline import paper_table, plot_table, table_markdown
from sysaware.cli_util import load_run_config, setup
from sysaware.io import atomic_write_text, write_json

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--config", required=True)
ap.add_argument("--reference", required=True, help="inferno_paper_table.json")
ap.add_argument("--evals", nargs="+", required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--md", required=True)
ap.add_argument("--png", required=True)
a = ap.parse_args()
log = setup()
results: dict[str, list[list[float]]] = defaultdict(list)
for path in a.evals:
    with open(path) as fh:
        ev = json.load(fh)
    results[ev["method"]].append(ev["sqrt_var_s"])
with open(a.reference) as fh:
    reference = json.load(fh)
table = paper_table(load_run_config(a.config), dict(results), reference)
plot_table(table, a.png)
atomic_write_text(a.md, table_markdown(table))
write_json(a.json, table)
log.info("\n%s", table_markdown(table))
