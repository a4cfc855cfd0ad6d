"""Losses every classification method shares."""

from __future__ import annotations

from torch import Tensor, nn


def bce_loss(net: nn.Module, x: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
    """Weighted binary cross-entropy of a single-logit network (mean over the events)."""
    logits = net(x).squeeze(-1)
    return nn.functional.binary_cross_entropy_with_logits(logits, y, weight=w)
