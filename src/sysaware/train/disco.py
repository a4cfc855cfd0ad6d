"""Distance correlation (Szekely, Rizzo, Bakirov 2007), the penalty of DisCo (Kasieczka, Shih 2020).

For samples (x_i, y_i) with weights w_i (normalised to mean 1) the squared distance
correlation is dCov^2(x, y) / sqrt(dCov^2(x, x) dCov^2(y, y)), where dCov^2 is the weighted
mean of the product of the double-centred distance matrices a_ij = |x_i - x_j| and
b_ij = |y_i - y_j|.  Differentiable in torch; O(n^2) memory, so it is meant for batches.
DisCo trains a classifier with loss + lambda dCor^2(f(x), z) on the background (or on events
with varied nuisance z) to decorrelate the output from z.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _centred(d: Tensor, w: Tensor) -> Tensor:
    """Double-centre the distance matrix ``d`` with weights ``w`` (mean 1)."""
    n = d.shape[0]
    row = (d * w[None, :]).sum(1) / n
    total = (row * w).sum() / n
    return d - row[:, None] - row[None, :] + total


def distance_correlation_sq(x: Tensor, y: Tensor, weights: Tensor | None = None) -> Tensor:
    """Squared (weighted) distance correlation of two 1-D samples; 0 for independent, 1 for y = a x + b."""
    if x.dim() != 1 or y.shape != x.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {tuple(x.shape)} and {tuple(y.shape)}")
    n = x.shape[0]
    w = torch.ones_like(x) if weights is None else weights.to(x.dtype)
    w = w * (n / w.sum())
    a = _centred((x[:, None] - x[None, :]).abs(), w)
    b = _centred((y[:, None] - y[None, :]).abs(), w)
    ww = w[:, None] * w[None, :]
    dcov_xy = (a * b * ww).sum() / n**2
    dcov_xx = (a * a * ww).sum() / n**2
    dcov_yy = (b * b * ww).sum() / n**2
    return dcov_xy / torch.sqrt(dcov_xx * dcov_yy).clamp_min(1e-300)
