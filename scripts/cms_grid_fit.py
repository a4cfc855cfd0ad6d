"""Fit of a tau+jets summary that takes the jet energy scale as an input, with its templates and the data
histogram rebuilt at each hypothesised JES (-1, 0, +1 sigma; sysaware.stats.grid_model).

  python scripts/cms_grid_fit.py --config results/cms_ttbar_taujets/config/fit_inputs/aware.json \\
      --model models/aware/repeat0.pt --ingested results/cms_ttbar_taujets/ingested/*.npz \\
      --out results/cms_ttbar_taujets/fit/aware/grid_fit.json
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.cms.fit_inputs import grid_inputs
from sysaware.cms.methods import NUISANCE, NUISANCE_VALUES
from sysaware.cms.pipeline import load_samples
from sysaware.errors import InputError
from sysaware.fit.grid import grid_fit_results
from sysaware.io import write_json
from sysaware.stats.grid_model import GridModel
from sysaware.train.networks import load_model

ap = config_parser(__doc__)
ap.add_argument("--model", required=True, help="trained model .pt (a summary with the nuisance as an input)")
ap.add_argument("--ingested", nargs="+", required=True, help="ingested .npz of every sample")
ap.add_argument("--out", required=True, help="output JSON (the results contract of fit_results.json, and the grid)")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
net, meta = load_model(a.model)
if not meta.get("z_input"):
    raise InputError(f"{a.model} ({meta['model']}): the summary does not take the nuisance as an input")
samples, observed_x = load_samples(cfg, {Path(p).stem: p for p in a.ingested})
spec, templates, data, info = grid_inputs(cfg, net, meta, samples, observed_x, NUISANCE, NUISANCE_VALUES)
result = grid_fit_results(GridModel(spec, info["nodes"], templates, data, z_name=NUISANCE))
write_json(a.out, {"method": meta["model"], **result, "fit_bins": info["fit_bins"]})
log.info("%s: mu = %.4f %+.4f %+.4f (stat-only %+.4f %+.4f, Asimov %+.4f %+.4f), JES = %.3f", meta["model"],
         result["bestfit"], *result["minos"], *result["stat_only_minos"], *result["asimov_minos"],
         result["bestfit_all"][result["labels"].index(NUISANCE)])
