"""pyhf workspace of one refit of user-supplied histograms (analysis ``refit``).

Reads and checks every ROOT histogram named by the entry's patterns (missing, not a histogram,
NaN, binnings that disagree, negative or all-zero contents: :mod:`sysaware.refit.inputs`),
sets negative simulated bins to 0 under ``negative_bins: zero``, then lets cabinetry read them,
applies the config's fit options (smoothing, symmetrisation, pruning) and writes the workspace,
the pruning report and, next to them in inputs/, the cabinetry config, the collected
histograms, corrections.json and (where bins were corrected) corrected.root.

  python scripts/refit_workspace.py --config results/refit/config.json --fit published \\
      --workspace results/refit/fit/published/workspace.json --pruning results/refit/fit/published/pruning.json
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.io import write_json
from sysaware.refit.entries import RefitConfigError
from sysaware.refit.inputs import refit_workspace

ap = config_parser(__doc__)
ap.add_argument("--fit", required=True, help="name of the entry in refit.fits")
ap.add_argument("--workspace", required=True, help="output pyhf workspace JSON")
ap.add_argument("--pruning", required=True, help="output pruning report JSON")
a = ap.parse_args()
log = setup()  # no torch in a refit: no torch threads to pin
cfg = load_run_config(a.config)
fits = cfg["refit"]["fits"]
if a.fit not in fits:
    raise RefitConfigError(f"refit.fits has no entry {a.fit!r} (entries: {sorted(fits)})")
ws, pruning = refit_workspace(fits[a.fit], a.fit, Path(a.workspace).parent / "inputs", cfg.get("fit", {}))
write_json(a.pruning, pruning)
write_json(a.workspace, ws)
n_pruned = sum(r["pruned"] for r in pruning["modifiers"])
log.info("%s: %d channels, %d of %d modifiers pruned below %g", a.fit, len(ws["channels"]),
         n_pruned, len(pruning["modifiers"]), pruning["threshold"])
