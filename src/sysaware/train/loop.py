"""The training loop every method uses: seeded, best epoch by validation loss, NaN guard."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss or Hessian); the best state so far is kept."""


@dataclass
class TrainSettings:
    """Optimiser and schedule settings (from the ``training`` config block)."""

    epochs: int = 50
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    patience: int = 10


@dataclass
class History:
    """Per-epoch training and validation losses, and the chosen epoch."""

    train: list[float] = field(default_factory=list)
    valid: list[float] = field(default_factory=list)
    best_epoch: int = -1

    @property
    def best_valid(self) -> float:
        """Validation loss of the kept epoch."""
        return self.valid[self.best_epoch]


def make_optimizer(net: nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    """Adam or SGD as configured."""
    if s.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    if s.optimizer == "sgd":
        return torch.optim.SGD(
            net.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay
        )
    raise ValueError(f"training.optimizer {s.optimizer!r} not in ['adam', 'sgd']")


def fit(
    net: nn.Module,
    batches: Callable[[int], Iterable[object]],
    loss_fn: Callable[[nn.Module, object], Tensor],
    valid_loss: Callable[[nn.Module], float],
    settings: TrainSettings,
    progress: Callable[[int, float, float], None] | None = None,
) -> History:
    """Train ``net`` in place and leave it at the epoch with the lowest validation loss.

    ``batches(epoch)`` yields the batches of one epoch (seeded by the caller);
    ``loss_fn(net, batch)`` is the method's loss; ``valid_loss(net)`` is evaluated
    without gradients after every epoch.  A non-finite loss raises
    :class:`TrainingError` after restoring the best state.
    """
    opt = make_optimizer(net, settings)
    hist = History()
    best_state = copy.deepcopy(net.state_dict())
    best = math.inf
    for epoch in range(settings.epochs):
        net.train()
        total: Tensor | float = 0.0
        n = 0
        for batch in batches(epoch):
            opt.zero_grad()
            loss = loss_fn(net, batch)
            loss.backward()
            opt.step()
            # summed on the loss's device: no host sync per step (matters on a GPU)
            total = total + loss.detach()
            n += 1
        mean_train = float(total) / max(n, 1)
        if not math.isfinite(mean_train):
            net.load_state_dict(best_state)
            raise TrainingError(
                f"non-finite training loss in epoch {epoch}; kept epoch {hist.best_epoch}"
            )
        net.eval()
        with torch.no_grad():
            v = float(valid_loss(net))
        if not math.isfinite(v):
            net.load_state_dict(best_state)
            raise TrainingError(f"non-finite validation loss at epoch {epoch}")
        hist.train.append(mean_train)
        hist.valid.append(v)
        if v < best:
            best, hist.best_epoch = v, epoch
            best_state = copy.deepcopy(net.state_dict())
        if progress is not None:
            progress(epoch, hist.train[-1], v)
        if epoch - hist.best_epoch >= settings.patience:
            log.info("early stop at epoch %d (best %d)", epoch, hist.best_epoch)
            break
    net.load_state_dict(best_state)
    return hist
