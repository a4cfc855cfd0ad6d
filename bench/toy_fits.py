"""Toy fits per second on one core: batched torch fits (sysaware.stats.batch_fit) against a loop of
cabinetry fits with MINOS on the same toys, and the largest differences between the two.

  python bench/toy_fits.py [--bins 10] [--toys 400] [--cabinetry-toys 40]

The model: signal with a free mu, background with staterror, one NormPlusShape and two normsys
nuisances (the shape of the CMS fit model, on random templates). Each toy is fitted (best fit and
the 68% profile-likelihood interval of mu); cabinetry runs MINOS on the first ``--cabinetry-toys``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cabinetry
import numpy as np
import pyhf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from modelgen import TOY_SPEC as SPEC  # noqa: E402
from modelgen import random_templates  # noqa: E402

from sysaware.stats.batch_fit import ToyModel  # noqa: E402
from sysaware.stats.pyhf_export import to_pyhf_model  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--toys", type=int, default=400)
    ap.add_argument("--cabinetry-toys", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    tpl = random_templates(SPEC, a.bins, a.seed)
    toys = ToyModel(SPEC, tpl)
    model = to_pyhf_model(SPEC, tpl)
    truth = toys.init()
    main_, aux = toys.sample_indexed(truth, a.seed, 0, a.toys, "bench")

    t0 = time.perf_counter()
    best = toys.fit(main_, aux)
    lo, hi, found = toys.intervals(main_, aux, best)
    ours = time.perf_counter() - t0

    pyhf.set_backend("numpy", "minuit")
    n_cab = min(a.cabinetry_toys, a.toys)
    diffs = []
    t0 = time.perf_counter()
    for i in range(n_cab):
        parts = [aux[i, toys.model.slices[name]].numpy() for name in model.config.auxdata_order]
        data = np.concatenate([main_[i].numpy(), *parts])
        res = cabinetry.fit.fit(model, data, minos=["mu"])
        mu = float(res.bestfit[model.config.poi_index])
        down, up = res.minos_uncertainty["mu"]
        diffs.append([abs(mu - float(best.pars[i, toys.poi_index])), abs(mu + down - float(lo[i])),
                      abs(mu + up - float(hi[i]))])
    theirs = time.perf_counter() - t0
    d = np.max(np.array(diffs), axis=0)
    out = {
        "bins": a.bins, "parameters": len(toys.labels), "toys": a.toys, "cabinetry_toys": n_cab,
        "batched_toys_per_s": a.toys / ours, "cabinetry_toys_per_s": n_cab / theirs,
        "ratio": (a.toys / ours) / (n_cab / theirs),
        "converged": int(best.converged.sum()), "intervals_found": int(found.sum()),
        "max_abs_diff": {"mu_hat": float(d[0]), "lower_edge": float(d[1]), "upper_edge": float(d[2])},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
