"""Coverage of the CMS fit's asymptotic intervals with model toys (issue 17, first measurement).

For each method's trained summary of a finished CMS run, its fit model (`sysaware.cms.fit_inputs`:
the model of the INFERNO loss and of the fit, before the workspace's pruning) is filled with its
templates; toys (main and auxiliary data) are drawn from it at the nominal point (mu = 1, every
nuisance at its nominal value) and fitted in batches (`sysaware.stats.batch_fit`): best fit and
the 68.3% and 95.4% profile-likelihood intervals of mu.  The summary per method is the coverage
entry of `sysaware.stats.coverage` (Clopper-Pearson bounds, pulls, FAIR-Universe score).

  python bench/cms_model_toys.py results/cms_ttbar_taujets --methods bce inferno --toys 2000 [--out F]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sysaware.cli_util import load_run_config
from sysaware.cms.fit_inputs import fit_inputs
from sysaware.cms.pipeline import load_samples
from sysaware.stats.batch_fit import ToyModel
from sysaware.stats.coverage import coverage_entry
from sysaware.train.networks import load_summary


def method_toys(results: Path, method: str, n_toys: int, batch: int, seed: int) -> dict:
    """The coverage entry of ``n_toys`` model toys of one method, and the seconds it took."""
    cfg = load_run_config(results / "config" / "fit_inputs" / f"{method}.json")
    samples, observed_x = load_samples(cfg, {p.stem: p for p in (results / "ingested").glob("*.npz")})
    net, _ = load_summary(str(results / "models" / method / "repeat0.pt"))
    spec, tpl, _, _ = fit_inputs(cfg, net, samples, observed_x)
    toys = ToyModel(spec, tpl)
    truth = toys.init()
    k = toys.poi_index
    out = {key: [] for key in ("mu_hat", "lo68", "hi68", "lo95", "hi95", "failed")}
    t0 = time.perf_counter()
    for first in range(0, n_toys, batch):
        n = min(batch, n_toys - first)
        main, aux = toys.sample_indexed(truth, seed, first, n, "cms_model_toys")
        best = toys.fit(main, aux)
        lo68, hi68, ok68 = toys.intervals(main, aux, best, q=1.0)
        lo95, hi95, ok95 = toys.intervals(main, aux, best, q=4.0)
        out["mu_hat"].append(best.pars[:, k])
        for key, v in (("lo68", lo68), ("hi68", hi68), ("lo95", lo95), ("hi95", hi95)):
            out[key].append(v)
        out["failed"].append(~(best.converged & ok68 & ok95))
        print(f"{method}: {first + n}/{n_toys} toys, {time.perf_counter() - t0:.0f} s", flush=True)
    arr = {key: torch.cat(v).numpy() for key, v in out.items()}
    mu_true = float(truth[k])
    # the pull's sigma: the interval's half on the side of the truth
    sigma = np.where(arr["mu_hat"] < mu_true, arr["hi68"] - arr["mu_hat"], arr["mu_hat"] - arr["lo68"])
    failed = arr["failed"] | ~(sigma > 0)
    entry = coverage_entry(method, "model", {n: float(v) for n, v in zip(toys.labels, truth)}, mu_true,
                           arr["mu_hat"], arr["lo68"], arr["hi68"], arr["lo95"], arr["hi95"],
                           np.where(sigma > 0, sigma, 1.0), failed)
    entry["failed_toys"] = [int(i) for i in np.flatnonzero(failed)]
    entry["seconds"] = time.perf_counter() - t0
    entry["parameters"] = len(toys.labels)
    entry["bins"] = toys.n_bins
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="a finished CMS results folder (results/cms_ttbar_taujets)")
    ap.add_argument("--methods", nargs="+", default=["bce", "inferno"])
    ap.add_argument("--toys", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="write the entries here as JSON")
    a = ap.parse_args()
    torch.set_num_threads(1)
    entries = [method_toys(a.results, m, a.toys, a.batch, a.seed) for m in a.methods]
    text = json.dumps({"analysis": "cms_ttbar_taujets", "entries": entries}, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    for e in entries:
        print(f"{e['method']}: {e['n_toys']} toys, {e['n_failed']} failed; coverage 68% {e['coverage_68']:.4f} "
              f"[{e['coverage_68_bounds'][0]:.4f}, {e['coverage_68_bounds'][1]:.4f}], 95% {e['coverage_95']:.4f}; "
              f"pull {e['pull_mean']:+.3f} +- {e['pull_width']:.3f}; bias {e['bias']:+.4f}; "
              f"median width {e['median_width']:.4f}; score {e['score']:.3f}; {e['seconds']:.0f} s")


if __name__ == "__main__":
    main()
