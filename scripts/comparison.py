"""comparison.json / .md and the overlaid scans of every method of one analysis."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sysaware.cli_util import setup
from sysaware.comparison import comparison_markdown, comparison_table, plot_scans
from sysaware.io import atomic_write_text, write_json


def _by_method(paths: list[str]) -> dict[str, dict]:
    """``fit/<method>/<file>.json`` -> {method: content}."""
    out = {}
    for p in paths:
        with open(p) as fh:
            out[Path(p).parent.name] = json.load(fh)
    return out


ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--analysis", required=True)
ap.add_argument("--fits", nargs="+", required=True, help="fit/<method>/fit_results.json")
ap.add_argument("--scans", nargs="+", required=True, help="fit/<method>/scan.json")
ap.add_argument("--rankings", nargs="*", default=[], help="fit/<method>/ranking.json")
ap.add_argument("--grid-fits", nargs="*", default=[], help="fit/<method>/grid_fit.json (templates rebuilt on a nuisance grid)")
ap.add_argument("--json", required=True)
ap.add_argument("--md", required=True)
ap.add_argument("--png", required=True)
a = ap.parse_args()
log = setup()
rankings = _by_method(a.rankings)
# symmetrised post-fit impact on the POI: (|up| + |down|) / 2
impacts = {
    m: {lab: 0.5 * (abs(u) + abs(d)) for lab, u, d in zip(r["labels"], r["postfit_up"], r["postfit_down"])}
    for m, r in rankings.items()
}
table = comparison_table(a.analysis, _by_method(a.fits), impacts or None, _by_method(a.grid_fits) or None)
plot_scans(_by_method(a.scans), a.png)
atomic_write_text(a.md, comparison_markdown(table))
write_json(a.json, table)
log.info("\n%s", comparison_markdown(table))
