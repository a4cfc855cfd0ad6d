"""The Bayes-optimal classifier of the benchmark, as a module the evaluation can bin.

With balanced classes, the ideal BCE network outputs the logit log f_s(x) - log f_b(x) of
the true densities at the nominal (r, lam); its sigmoid binned in equal-width bins is the
paper's "optimal classifier" row.  Comparing it with our trained BCE separates
"how well was the classifier trained" from "how much does a classifier summary lose".
"""

from __future__ import annotations

import torch
from torch import nn

from .mixture import SIGNAL_MEAN_CODE, log_density_background, log_density_signal


class OptimalClassifier(nn.Module):
    """x (n, 3) -> the exact log density ratio (n, 1); no trainable parameters."""

    def __init__(self, signal_mean: tuple[float, float] = SIGNAL_MEAN_CODE):
        super().__init__()
        self.signal_mean = (float(signal_mean[0]), float(signal_mean[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xn = x.detach().cpu().double().numpy()
        logit = log_density_signal(xn, self.signal_mean) - log_density_background(xn)
        return torch.from_numpy(logit).to(x.dtype)[:, None]
