"""Ingest one sample of the tau+jets analysis: selection, shape variations, features, weights, cut flows.

  python scripts/cms_ingest.py --config results/cms_ttbar_taujets/config.json --sample ttbar \\
      --generated results/cms_ttbar_taujets/generated --out results/cms_ttbar_taujets/ingested/ttbar.npz \\
      [--files LOCAL_COPY ...]
Writes the arrays (.npz) and, beside them, the cut flows and bookkeeping (.json).  With
cms.remote_inputs stage, --files are the local copies Snakemake staged of the sample's files (the
rule's input, in the config's order); otherwise they are ignored and URLs are read directly.
cms.executor dask runs the chunks on a Dask cluster (cms.dask), with identical results.  A bad input
(missing, truncated or corrupt file, missing branch, NaN/inf under cms.nan_policy error, no
selected event, weights that sum to 0 or less, a feature constant over the selected events; see
sysaware.cms.pipeline.check_ingested) ends the script with status 1 and one error line naming it (the
traceback before it in the log); nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.cms.pipeline import config_sample, ingest, sample_sum_weights, write_ingestion
from sysaware.cms.ingestion.remote import job_files

ap = config_parser(__doc__)
ap.add_argument("--sample", required=True, help="name of a cms.samples entry")
ap.add_argument("--generated", required=True, help="folder of the generator's files")
ap.add_argument("--out", required=True, help="output .npz (its .json goes beside it)")
ap.add_argument("--files", nargs="*", help="local copies of the sample's files (cms.remote_inputs stage)")
a = ap.parse_args()
log = setup(1)
cfg = load_run_config(a.config)
sample = config_sample(cfg, a.sample)
files = job_files(sample, cfg["cms"].get("remote_inputs", "direct"), a.files)
result = ingest(cfg, a.sample, a.generated, files=files)
sumw = sample_sum_weights(cfg, a.sample, a.generated, files=files)
out = Path(a.out)
write_ingestion(result, out, out.with_suffix(".json"), sumw, staged_from=sample["files"] if files else None)
rate = result.n_events_read / result.seconds if result.seconds > 0 else float("nan")
log.info("%s: %d events read, %d selected (nominal), %.1f s, %.0f events/s", a.sample, result.n_events_read,
         result.n_selected(), result.seconds, rate)
