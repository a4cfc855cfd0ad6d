"""Read the HiggsML file, assign samples and splits, scale the weights; save the prepared events.

  python scripts/higgsml_prepare.py --config results/higgsml_tes/config.json --out prepared/events.npz \\
      --summary prepared/summary.json
A bad input (missing file or column, a directory, labels not 0/1 or s/b, NaN/inf under
higgsml.nan_policy error, a sample without events, weights that are negative or all zero, a network
input undefined or constant in a sample) ends the script with status 1 and one error line naming it
(the traceback before it in the log); nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.higgsml.dataset import SPLIT_NAMES, prepare
from sysaware.io import save_npz, write_json

ap = config_parser(__doc__)
ap.add_argument("--out", required=True, help="output .npz of the prepared events")
ap.add_argument("--summary", required=True, help="output JSON: events and yields per sample and split")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
arrays, facts = prepare(cfg)
names = [s["name"] for s in cfg["higgsml"]["samples"]]
summary = {
    name: {
        split: {"events": int(((arrays["sample"] == k) & (arrays["split"] == j)).sum()),
                "yield": float(arrays["weight"][(arrays["sample"] == k) & (arrays["split"] == j)].sum())}
        for j, split in enumerate(SPLIT_NAMES)
    }
    for k, name in enumerate(names)
}
save_npz(a.out, **arrays)
try:
    write_json(a.summary, {"input": cfg["higgsml"]["input"], **facts, "events": int(len(arrays["weight"])),
                           "distinct_event_ids": int(len(np.unique(arrays["event_id"]))), "samples": summary})
except BaseException:
    Path(a.out).unlink(missing_ok=True)  # no events file without its summary
    raise
log.info("%d events: %s", len(arrays["weight"]), summary)
