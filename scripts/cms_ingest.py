"""Ingest one sample of the tau+jets analysis: selection, shape variations, features, weights, cut flows.

  python scripts/cms_ingest.py --config results/cms_ttbar_taujets/config.json --sample ttbar \\
      --generated results/cms_ttbar_taujets/generated --out results/cms_ttbar_taujets/ingested/ttbar.npz
Writes the arrays (.npz) and, beside them, the cut flows and bookkeeping (.json).  A bad input
(missing, truncated or corrupt file, missing branch, NaN/inf under cms.nan_policy error, no
selected event) ends the script with status 1 and one error line naming it; nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.cms.nanoevents import IngestionError
from sysaware.cms.pipeline import ingest, sample_sum_weights, write_ingestion

ap = config_parser(__doc__)
ap.add_argument("--sample", required=True, help="name of a cms.samples entry")
ap.add_argument("--generated", required=True, help="folder of the generator's files")
ap.add_argument("--out", required=True, help="output .npz (its .json goes beside it)")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
try:
    result = ingest(cfg, a.sample, a.generated)
    sumw = sample_sum_weights(cfg, a.sample, a.generated)
except IngestionError as err:
    log.error("%s", err)
    raise SystemExit(1) from None
out = Path(a.out)
write_ingestion(result, out, out.with_suffix(".json"), sumw)
rate = result.n_events_read / result.seconds if result.seconds > 0 else float("nan")
log.info("%s: %d events read, %d selected (nominal), %.1f s, %.0f events/s", a.sample, result.n_events_read,
         result.n_selected(), result.seconds, rate)
