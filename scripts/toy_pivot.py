"""The learning-to-pivot toy: f(X) of signal at Z = -1, 0, +1, without and with the adversary.

  python scripts/toy_pivot.py --seed 1 --png pivot.png --json pivot.json
"""

from __future__ import annotations

import argparse

from sysaware.cli_util import setup
from sysaware.io import write_json
from sysaware.toys.figures import pivot_toy

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--lam", type=float, default=10.0, help="adversary weight lambda")
ap.add_argument("--png", required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
log = setup(a.threads)
numbers = pivot_toy(a.seed, a.png, a.lam)
write_json(a.json, numbers)
log.info("KS(Z=-1, Z=+1): plain %.3f, pivot %.3f", numbers["plain"]["ks_z-1_z+1"], numbers["pivot"]["ks_z-1_z+1"])
