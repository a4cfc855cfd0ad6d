"""Hard binning of a trained summary and the merging of nearly empty bins, for every analysis.

A multi-output (INFERNO) network bins an event by the argmax of its outputs; a single-output
(BCE) network by equal-width bins of its sigmoid.  Bins expecting fewer than a minimum yield
are merged with their neighbours before a fit: a softmax network may leave outputs unused,
and a nearly empty bin lets a fitted background go negative there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

MIN_BIN_YIELD = 1.0


def hard_bins(net: nn.Module, x: torch.Tensor, n_bins: int, batch: int = 200_000) -> np.ndarray:
    """Bin index per event: argmax for multi-output nets, equal-width bins of sigmoid for one output."""
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            o = net(x[i : i + batch])
            if o.shape[1] == 1:
                p = torch.sigmoid(o[:, 0])
                out.append(torch.clamp((p * n_bins).long(), max=n_bins - 1))
            else:
                out.append(o.argmax(dim=1))
    if not out:
        return np.zeros(0, dtype=np.int64)
    return torch.cat(out).cpu().numpy()


def merge_small_bins(expected: np.ndarray, minimum: float = MIN_BIN_YIELD) -> list[list[int]]:
    """Groups of consecutive bin indices, each expecting at least ``minimum`` events."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0.0
    for i, v in enumerate(expected):
        current.append(i)
        total += float(v)
        if total >= minimum:
            groups.append(current)
            current, total = [], 0.0
    if current:
        if groups:
            groups[-1] += current
        else:
            groups.append(current)
    return groups


def merge_bins(values: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Sum of ``values`` over each group of :func:`merge_small_bins`."""
    return np.array([values[g].sum() for g in groups])
