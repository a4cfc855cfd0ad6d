"""pyhf workspace of one refit of user-supplied histograms (analysis ``refit``).

Reads the ROOT histograms named by the entry's patterns through cabinetry, applies the
config's fit options (smoothing, symmetrisation, pruning) and writes the workspace, the
pruning report and, next to them in inputs/, the cabinetry config and collected histograms.

  python scripts/refit_workspace.py --config results/refit/config.json --fit published \\
      --workspace results/refit/fit/published/workspace.json --pruning results/refit/fit/published/pruning.json
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.io import write_json
from sysaware.refit import RefitConfigError, refit_cabinetry_config
from sysaware.stats.workspace_build import workspace_from_cabinetry_config

ap = config_parser(__doc__)
ap.add_argument("--fit", required=True, help="name of the entry in refit.fits")
ap.add_argument("--workspace", required=True, help="output pyhf workspace JSON")
ap.add_argument("--pruning", required=True, help="output pruning report JSON")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
fits = cfg["refit"]["fits"]
if a.fit not in fits:
    raise RefitConfigError(f"refit.fits has no entry {a.fit!r} (entries: {sorted(fits)})")
folder = Path(a.workspace).parent / "inputs"
config = refit_cabinetry_config(fits[a.fit], str(folder / "histograms"))
ws, pruning = workspace_from_cabinetry_config(config, folder, cfg["fit"])
write_json(a.pruning, pruning)
write_json(a.workspace, ws)
n_pruned = sum(r["pruned"] for r in pruning["modifiers"])
log.info("%s: %d channels, %d of %d modifiers pruned below %g", a.fit, len(ws["channels"]),
         n_pruned, len(pruning["modifiers"]), pruning["threshold"])
