"""The histogram family of methods (INFERNO): the network's softmax outputs are the bins, the loss
is var(POI) of the analysis's likelihood filled with their soft histograms.

Every batch holds the same number of events of every sample (:func:`~sysaware.train.batches.per_sample_batches`,
at least 2); the validation loss fills the likelihood with the whole valid split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch import Tensor, nn

from .batches import per_sample_batches
from .context import Context, Objective
from .data import TrainingData


class Setup:
    """A histogram-summary training before its network exists: n_bins outputs, standardised inputs."""

    def __init__(self, ctx: Context, data: TrainingData):
        self.ctx, self.data = ctx, data
        nominal = data.classes("train", None, ctx.device)
        self.mean, self.std = nominal.x.mean(0).cpu(), nominal.x.std(0).cpu()
        self.n_inputs = data.n_inputs
        self.n_outputs = int(ctx.cfg["training"]["n_bins"])

    def objective(self, net: nn.Module, learners: dict[str, Any]) -> Objective:
        """Batches of every sample, var(POI) on them, and on the whole valid split."""
        ctx, data = self.ctx, self.data
        likelihood = data.inferno_likelihood(ctx.variant)
        train = data.inferno_split("train", ctx.device)
        valid_events = data.inferno_split("valid", ctx.device).events(None)
        per_sample = max(int(ctx.cfg["training"]["batch_size"]) // len(train.sizes), 2)

        def batches(epoch: int) -> Iterator[Any]:
            for index in per_sample_batches(train.sizes, per_sample, ctx.gen):
                yield train.events({k: v.to(ctx.device) for k, v in index.items()})

        def loss(net: nn.Module, events: Any) -> Tensor:
            return likelihood.variance(net, events)

        def valid(net: nn.Module) -> float:
            return float(likelihood.variance(net, valid_events))

        return Objective(batches, loss, valid)
