"""INFERNO loss cost: torch.func Hessian of the Asimov NLL vs the closed-form Fisher J^T diag(1/nu) J.

Both give the same var(s) (checked here); the ratio says what the Hessian route costs per
training step, forward + backward, on the benchmark's bm4 HistFactory model (interp mode).
Run: python bench/inferno_loss_hessian.py [--batch 2000] [--reps 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sysaware.benchmark.losses import NOMINAL, benchmark_spec, inferno_loss, interp_templates
from sysaware.benchmark.mixture import sample_background, sample_signal
from sysaware.stats.torch_model import TorchModel
from sysaware.train.networks import make_mlp


def fisher_closed_form(net, xs, xb, temperature):
    """var(s) for bm4 from J^T diag(1/nu) J plus the constraint terms, J by torch.func.jacfwd."""
    tpl = interp_templates(net, xs, xb, temperature)
    spec = benchmark_spec(4)
    model = TorchModel(spec, tpl.check(spec))
    p0 = model.init()
    jac = torch.func.jacfwd(lambda p: model.expected(p, tpl))(p0)
    nu = model.expected(p0, tpl)
    constraint = -torch.func.hessian(lambda p: model.constraint_logpdf(p, tpl))(p0)
    info = jac.T @ (jac / nu[:, None]) + constraint
    return NOMINAL["s"] ** 2 * torch.linalg.inv(info)[model.poi_index, model.poi_index]


def timed(fn, reps):
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = torch.tensor(sample_signal(a.batch // 2, rng), dtype=torch.float32)
    xb = torch.tensor(sample_background(a.batch // 2, rng), dtype=torch.float32)
    net = make_mlp(3, 10)

    def hess_step():
        net.zero_grad()
        inferno_loss(net, xs, xb, 4, 0.1, "interp").backward()

    def fisher_step():
        net.zero_grad()
        fisher_closed_form(net, xs, xb, 0.1).backward()

    v1 = inferno_loss(net, xs, xb, 4, 0.1, "interp").item()
    v2 = fisher_closed_form(net, xs, xb, 0.1).item()
    t_h, t_f = timed(hess_step, a.reps), timed(fisher_step, a.reps)
    t_e = timed(lambda: (net.zero_grad(), inferno_loss(net, xs, xb, 4, 0.1, "exact").backward()), a.reps)
    print(f"var(s): hessian {v1:.6f}  closed-form fisher {v2:.6f}  (rel diff {abs(v1 / v2 - 1):.1e})")
    print(f"time per step, hessian / closed-form fisher = {t_h / t_f:.2f}")
    print(f"time per step, exact mode (closed-form Fisher, forward-mode d nu/d(r,lam)) / interp mode (Hessian) = {t_e / t_h:.2f}")


if __name__ == "__main__":
    main()
