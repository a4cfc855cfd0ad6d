"""The learning-to-pivot toy (Louppe, Kagan, Cranmer, arXiv:1611.01046, section 5.1), in torch.

Two classes in x in R^2:

* background (y = 0): x ~ N((0, 0), [[1, -0.5], [-0.5, 1]]);
* signal (y = 1): x ~ N((1, 1 + z), 1), whose position moves with the nuisance z ~ N(0, 1).

A classifier f(x) trained on its own (lambda = 0) uses the second coordinate, so the
distribution of f(X) for signal changes with z.  With an adversary r(f(x)) that predicts z of
signal events (a Gaussian with learned mean and width, the one-component case of the paper's
mixture density network), the classifier minimises L_f - lambda L_r and becomes a pivot:
f(X) | signal no longer depends on z.  The dependence is measured by the Kolmogorov-Smirnov
distance between the f(X) distributions of signal at z = -1 and z = +1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..seeding import rng_for, torch_generator
from ..train.adversary import adversary_nll

BKG_COV = np.array([[1.0, -0.5], [-0.5, 1.0]])


def sample(n: int, rng: np.random.Generator, z: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` background and ``n`` signal events: (x, y, z); signal z drawn from N(0, 1) unless fixed."""
    xb = rng.multivariate_normal([0.0, 0.0], BKG_COV, size=n)
    zs = rng.normal(size=n) if z is None else np.full(n, float(z))
    xs = rng.normal(size=(n, 2)) + np.stack([np.ones(n), 1.0 + zs], axis=1)
    x = np.concatenate([xb, xs]).astype(np.float32)
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.float32)
    zz = np.concatenate([np.zeros(n), zs]).astype(np.float32)
    return x, y, zz


def _mlp(n_in: int, n_out: int, width: int = 20) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_out))


@dataclass
class PivotSettings:
    """Training settings of the toy (the paper: 20-unit layers, lambda 10 for the pivot)."""

    lam: float = 10.0
    n_train: int = 50_000
    steps: int = 1500
    pretrain_steps: int = 300
    adversary_steps: int = 20
    batch: int = 512
    lr: float = 1e-3


def train_pivot(seed: int, s: PivotSettings) -> nn.Module:
    """Train the classifier (with the adversary when ``s.lam > 0``); returns f as a module giving a probability."""
    rng = rng_for(seed, "pivot_toy", "train")
    gen = torch_generator(seed, "pivot_toy", "init", s.lam)
    x, y, z = (torch.from_numpy(a) for a in sample(s.n_train, rng))
    clf, adv = _mlp(2, 1), _mlp(1, 2)
    opt_f = torch.optim.Adam(clf.parameters(), lr=s.lr)
    opt_r = torch.optim.Adam(adv.parameters(), lr=s.lr)
    bce = nn.BCEWithLogitsLoss()
    sig = y == 1

    def batch() -> Tensor:
        return torch.randint(0, len(y), (s.batch,), generator=gen)

    for _ in range(s.pretrain_steps):  # the classifier alone first, as in the paper
        i = batch()
        opt_f.zero_grad()
        bce(clf(x[i])[:, 0], y[i]).backward()
        opt_f.step()
    for step in range(s.steps if s.lam > 0 else 0):
        for _ in range(s.adversary_steps):  # adversary: predict z of signal from f
            i = batch()
            i = i[sig[i]]
            opt_r.zero_grad()
            adversary_nll(adv, torch.sigmoid(clf(x[i])[:, :1]).detach(), z[i]).backward()
            opt_r.step()
        i = batch()
        opt_f.zero_grad()
        logits = clf(x[i])[:, 0]
        j = sig[i]
        loss = bce(logits, y[i]) - s.lam * adversary_nll(adv, torch.sigmoid(logits[j])[:, None], z[i][j])
        loss.backward()
        opt_f.step()
    if s.lam == 0:
        for _ in range(s.steps):
            i = batch()
            opt_f.zero_grad()
            bce(clf(x[i])[:, 0], y[i]).backward()
            opt_f.step()
    return nn.Sequential(clf, nn.Sigmoid()).eval()


def outputs_at(f: nn.Module, seed: int, z: float, n: int = 20_000) -> np.ndarray:
    """f(X) of ``n`` signal events generated at a fixed ``z``."""
    x, y, _ = sample(n, rng_for(seed, "pivot_toy", "eval", z), z=z)
    with torch.no_grad():
        return f(torch.from_numpy(x[y == 1]))[:, 0].numpy()


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance (largest gap between the empirical CDFs)."""
    grid = np.sort(np.concatenate([a, b]))
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(ca - cb)))
