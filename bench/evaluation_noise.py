"""How much sqrt(var s) of a fixed summary moves with the test sample and the derivative step.

The evaluation (``sysaware.benchmark.evaluate.binned_fisher``) takes d nu / d(r, lam) from
central differences of hard histograms of shifted test events.  For several independent
test samples and steps this prints the mean and the relative standard deviation (%) of
sqrt(var s) per column, for the Bayes-optimal classifier (binned like BCE) and for any
trained models given.
Run: python bench/evaluation_noise.py [--n-test 1000000] [--seeds 4] [--steps 0.05 0.2] [--model M.pt ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from sysaware.benchmark.analytic import sqrt_var_s
from sysaware.benchmark.evaluate import binned_fisher
from sysaware.benchmark.mixture import sample_background, sample_signal
from sysaware.benchmark.optimal import OptimalClassifier
from sysaware.train.networks import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-test", type=int, default=1_000_000, help="test events per class")
    ap.add_argument("--seeds", type=int, default=4, help="independent test samples")
    ap.add_argument("--steps", type=float, nargs="+", default=[0.05, 0.2])
    ap.add_argument("--n-bins", type=int, default=10)
    ap.add_argument("--model", nargs="*", default=[], help="trained models (.pt) to include")
    a = ap.parse_args()
    nets = {"optimal classifier": OptimalClassifier()}
    nets.update({path: load_model(path)[0] for path in a.model})
    rows: dict[tuple[str, float], list[list[float]]] = {}
    for seed in range(a.seeds):
        rng = np.random.default_rng(100 + seed)
        xs = torch.tensor(sample_signal(a.n_test, rng), dtype=torch.float32)
        xb = torch.tensor(sample_background(a.n_test, rng), dtype=torch.float32)
        for name, net in nets.items():
            for step in a.steps:
                info = binned_fisher(net, xs, xb, a.n_bins, {"r": step, "lam": step})
                rows.setdefault((name, step), []).append([sqrt_var_s(info, k) for k in range(5)])
    print(f"{a.seeds} test samples of {a.n_test} + {a.n_test} events\n")
    print("| summary | step | mean bm0..bm4 | rel. sd (%) bm0..bm4 |\n|---|---|---|---|")
    for (name, step), r in rows.items():
        arr = np.asarray(r)
        mean, sd = arr.mean(0), 100 * arr.std(0, ddof=1) / arr.mean(0)
        print(f"| {name} | {step} | {' '.join(f'{v:.2f}' for v in mean)} | {' '.join(f'{v:.2f}' for v in sd)} |")


if __name__ == "__main__":
    main()
