"""The analytic classifier-output toy of the seed talks: ROC and AMS versus threshold for several alpha.

  python scripts/toy_classifier_output.py --alphas 1 2 4 8 --png toy.png --json toy.json
"""

from __future__ import annotations

import argparse

from sysaware.cli_util import setup
from sysaware.io import write_json
from sysaware.toys.figures import classifier_output_toy

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--alphas", type=float, nargs="+", default=[1.0, 2.0, 4.0, 8.0])
ap.add_argument("--png", required=True)
ap.add_argument("--json", required=True)
a = ap.parse_args()
log = setup(1)
numbers = classifier_output_toy(a.alphas, a.png)
write_json(a.json, numbers)
for row in numbers["alphas"]:
    log.info("alpha %g: AUC %.4f, best threshold %.3f, AMS %.3f", row["alpha"], row["auc"], row["best_threshold"],
             row["best_ams"])
