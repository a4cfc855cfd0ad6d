"""Templates (ROOT), cabinetry config and pyhf workspace of one trained benchmark summary."""

from __future__ import annotations

import json
from pathlib import Path

from sysaware.benchmark.fit_templates import fit_inputs
from sysaware.cli_util import load_events, load_run_config, run_parser, setup
from sysaware.io import write_json
from sysaware.stats.workspace_build import build_workspace
from sysaware.train.networks import load_summary

ap = run_parser(__doc__)
ap.add_argument("--model", required=True, help="trained model .pt")
ap.add_argument("--workspace", required=True, help="output pyhf workspace JSON; its folder gets templates.root etc.")
ap.add_argument("--info", required=True, help="output JSON: merged bins, pseudo-data size")
ap.add_argument("--pruning", required=True, help="output JSON: the pruning report (fit.prune_threshold)")
a = ap.parse_args()
log = setup(a.threads)
data = load_events(a.data, ("xs_test", "xb_test"))
net, meta = load_summary(a.model)  # a parameterised f(x, z) at the nominal z
cfg = load_run_config(a.config)
spec, tpl, observed, info = fit_inputs(cfg, net, data)
folder = Path(a.workspace).parent
ws, pruning = build_workspace(spec, tpl, observed, folder / "inputs", options=cfg["fit"])
write_json(a.info, {"method": meta["model"], "repeat": meta["repeat"], **info})
write_json(a.pruning, pruning)
write_json(a.workspace, ws)
log.info("%s: %d fit bins from %d, observed %s", meta["model"], len(info["fit_bins"]), info["n_bins"], json.dumps(observed.tolist()))
