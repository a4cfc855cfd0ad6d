"""Generate the INFERNO benchmark's train/valid/test events (seeded from the config)."""

from __future__ import annotations

import argparse

from sysaware.benchmark.pipeline import make_data
from sysaware.cli_util import load_run_config, setup
from sysaware.io import save_npz

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--config", required=True, help="run config JSON (rule run_config)")
ap.add_argument("--out", required=True, help="output .npz")
a = ap.parse_args()
log = setup()
data = make_data(load_run_config(a.config))
save_npz(a.out, **data)
log.info("wrote %s: %s", a.out, {k: v.shape for k, v in data.items()})
