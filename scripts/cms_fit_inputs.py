"""Templates (ROOT), cabinetry config and pyhf workspace of one trained tau+jets summary.

  python scripts/cms_fit_inputs.py --config results/cms_ttbar_taujets/config.json --model models/bce.pt \\
      --ingested results/cms_ttbar_taujets/ingested/*.npz --workspace fit/bce/workspace.json \\
      --info fit/bce/fit_inputs.json --pruning fit/bce/pruning.json
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.cms.fit_inputs import fit_inputs
from sysaware.cms.pipeline import load_samples
from sysaware.io import write_json
from sysaware.stats.workspace_build import build_workspace
from sysaware.train.networks import load_summary

ap = config_parser(__doc__)
ap.add_argument("--model", required=True, help="trained model .pt")
ap.add_argument("--ingested", nargs="+", required=True, help="ingested .npz of every sample")
ap.add_argument("--workspace", required=True, help="output pyhf workspace JSON; its folder gets inputs/")
ap.add_argument("--info", required=True, help="output JSON: bins, expected and observed events")
ap.add_argument("--pruning", required=True, help="output JSON: the pruning report")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
samples, observed_x = load_samples(cfg, {Path(p).stem: p for p in a.ingested})
net, meta = load_summary(a.model)  # a parameterised f(x, z) at the nominal z
spec, tpl, observed, info = fit_inputs(cfg, net, samples, observed_x)
ws, pruning = build_workspace(spec, tpl, observed, Path(a.workspace).parent / "inputs", options=cfg["fit"])
write_json(a.info, {"method": meta["model"], **info})
write_json(a.pruning, pruning)
write_json(a.workspace, ws)
log.info("%s: %d fit bins, %.1f expected, %d observed", meta["model"], len(info["fit_bins"]),
         sum(info["expected"].values()), int(observed.sum()))
