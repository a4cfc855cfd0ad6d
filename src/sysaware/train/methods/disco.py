"""``disco``: cross-entropy plus lambda times the squared distance correlation of f and z, per class
(Kasieczka, Shih; :func:`sysaware.train.disco.distance_correlation_sq`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Method


def penalty(options: Mapping[str, Any], learners: dict[str, Any]):
    """lambda dCor^2(sigmoid(f), z) summed over the classes with more than two events."""
    import torch

    from ..disco import distance_correlation_sq

    lam = float(options["lam"])

    def term(net, x, y, w, z, epoch, training):
        p = torch.sigmoid(net(x)[:, 0])
        terms = [distance_correlation_sq(p[y == c].double(), z[y == c].double(), w[y == c].double())
                 for c in (0.0, 1.0) if int((y == c).sum()) > 2]
        return lam * sum(terms).float()

    return term


METHOD = Method(
    name="disco", order=4, requires=("nuisance",), z="random", penalty=penalty,
    doc="cross-entropy plus lambda dCor^2(f, z) per class",
)
