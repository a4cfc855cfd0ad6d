"""Profiled (mu, z) likelihood of one trained HiggsML model at the true z values (widths, scans, toys).

  python scripts/higgsml_evaluate.py --config results/higgsml_tes/config.json --events prepared/events.npz \\
      --model models/aware.pt --out eval/aware.json
"""

from __future__ import annotations

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.higgsml.dataset import load
from sysaware.higgsml.evaluate import evaluate
from sysaware.io import write_json
from sysaware.train.networks import load_model

ap = config_parser(__doc__)
ap.add_argument("--events", required=True, help="prepared events .npz (rule higgsml_prepare)")
ap.add_argument("--model", required=True, help="trained model .pt")
ap.add_argument("--out", required=True, help="output JSON")
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
log = setup(a.threads)
cfg = load_run_config(a.config)
data = load(a.events, cfg)
net, meta = load_model(a.model)
true_values = [meta["true_z"]] if meta.get("true_z") is not None else cfg["higgsml"]["tes"]["true_values"]
result = evaluate(cfg, data, net, meta, true_values)
write_json(a.out, result)
for r in result["results"]:
    log.info("%s at true z %+.3f: Asimov half-width %.4f (stat-only %.4f), toys median %.4f", meta["model"],
             r["true_z"], r["asimov"]["half_width"], r["asimov"]["stat_only_half_width"],
             r["toys"]["median_half_width"])
