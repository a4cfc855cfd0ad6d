"""sqrt(var s) of a trained summary on a large test sample, per benchmark column.

The network's hard summary (argmax bin for softmax networks, fixed bins of the
sigmoid output for BCE) is histogrammed on independent test events.  The Asimov
Hessian of the binned Poisson likelihood in theta = (s, r, lam, b) is
I = J^T diag(1/nu) J with J = d nu / d theta; the r and lam columns come from
central differences of the histograms of the *same* background events moved by
+-step with :func:`~sysaware.benchmark.mixture.shift_background` (common random
numbers, so the difference is smooth).  Each benchmark then fixes, profiles or
constrains the nuisances as in :func:`~sysaware.benchmark.analytic.sqrt_var_s`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..binning import hard_bins

from .analytic import sqrt_var_s
from .losses import NOMINAL, shift_nominal

DEFAULT_STEPS = {"r": 0.05, "lam": 0.05}


def binned_jacobian(
    net: nn.Module,
    xs: torch.Tensor,
    xb: torch.Tensor,
    n_bins: int,
    steps: dict[str, float] = DEFAULT_STEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected counts nu per bin and d nu / d(s, r, lam, b), shape (n_bins, 4), of the hard summary."""

    def shape(x: torch.Tensor) -> np.ndarray:
        return np.bincount(hard_bins(net, x, n_bins), minlength=n_bins) / x.shape[0]

    hs, hb = shape(xs), shape(xb)
    s, b = NOMINAL["s"], NOMINAL["b"]
    cols = [hs]
    for p in ("r", "lam"):
        d = steps[p]
        up, dn = shape(shift_nominal(xb, p, d)), shape(shift_nominal(xb, p, -d))
        cols.append(b * (up - dn) / (2 * d))
    cols.append(hb)
    return s * hs + b * hb, np.stack(cols, axis=1)


def binned_fisher(
    net: nn.Module,
    xs: torch.Tensor,
    xb: torch.Tensor,
    n_bins: int,
    steps: dict[str, float] = DEFAULT_STEPS,
) -> np.ndarray:
    """4x4 Asimov Fisher information in (s, r, lam, b) of the hard-binned summary (empty bins dropped)."""
    return fisher_from_jacobian(*binned_jacobian(net, xs, xb, n_bins, steps))


def fisher_from_jacobian(nu: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """J^T diag(1/nu) J over the bins with nu > 0."""
    keep = nu > 0
    return (jac[keep] / nu[keep, None]).T @ jac[keep]


def evaluate_columns(
    net: nn.Module, xs: torch.Tensor, xb: torch.Tensor, n_bins: int
) -> list[float]:
    """sqrt(var s) for benchmark columns bm0..bm4."""
    info = binned_fisher(net, xs, xb, n_bins)
    return [sqrt_var_s(info, k) for k in range(5)]
