"""Compare the HiggsML TES methods: comparison.json/.md, the -2 delta ln L figure, fit/<method>/fit_results.json.

  python scripts/higgsml_comparison.py --config results/higgsml_tes/config.json --evals eval/*.json \\
      --json comparison.json --md comparison.md --png profile_scans.png --fit-dir fit
"""

from __future__ import annotations

import json
from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.higgsml.comparison import comparison_markdown, comparison_table, plot_profiles, reference_index
from sysaware.higgsml.names import method_names
from sysaware.io import atomic_write_text, write_json

ap = config_parser(__doc__)
ap.add_argument("--evals", nargs="+", required=True, help="evaluation JSONs (rule higgsml_evaluate)")
ap.add_argument("--json", required=True)
ap.add_argument("--md", required=True)
ap.add_argument("--png", required=True)
ap.add_argument("--fit-dir", required=True, help="folder that gets <method>/fit_results.json")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
evals = {}
for p in a.evals:
    with open(p) as fh:
        evals[Path(p).stem] = json.load(fh)
methods = method_names(cfg)
true_values = cfg["higgsml"]["tes"]["true_values"]
table = comparison_table(methods, true_values, evals)
ref = round(true_values[reference_index(true_values)], 12)
for e in evals.values():
    for r in e["results"]:
        if round(r["true_z"], 12) == ref:
            write_json(Path(a.fit_dir) / e["method"] / "fit_results.json",
                       {**r["fit"], "true_z": r["true_z"], "model": e["model"]})
plot_profiles(evals, methods, true_values, a.png)
atomic_write_text(a.md, comparison_markdown(table))
write_json(a.json, table)
log.info("%s", comparison_markdown(table))
