"""sqrt(var s) per benchmark column for one trained model, on the test events, with its pyhf cross-check."""

from __future__ import annotations

from sysaware.benchmark.pipeline import COLUMNS, evaluate, finite_or_raise
from sysaware.cli_util import load_events, load_run_config, run_parser, setup
from sysaware.io import write_json
from sysaware.train.networks import load_summary

ap = run_parser(__doc__)
ap.add_argument("--model", required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()
log = setup(a.threads)
data = load_events(a.data, ("xs_test", "xb_test"))
net, meta = load_summary(a.model)  # a parameterised f(x, z) at the nominal z
res = evaluate(load_run_config(a.config), net, data)
cols = finite_or_raise(res["sqrt_var_s"], a.model)
finite_or_raise([p["hesse"] for p in res["pyhf"]], f"{a.model} (pyhf cross-check)")
write_json(a.out, {"method": meta["model"], "repeat": meta["repeat"], "columns": COLUMNS, **res})
log.info("%s repeat %d: %s", meta["model"], meta["repeat"], cols)
log.info("pyhf HESSE: %s", [p["hesse"] for p in res["pyhf"]])
