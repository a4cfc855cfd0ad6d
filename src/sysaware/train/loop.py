"""The training loop every method uses: seeded, best epoch by validation loss, NaN guard, checkpoints.

With a :class:`~sysaware.train.checkpoint.Checkpoint`, the state after every epoch is saved, and
a training that was killed resumes from it and ends with the same weights as an uninterrupted
one.  A non-finite loss, or an INFERNO loss whose Asimov Hessian became singular, stops training
with :class:`TrainingError`; the network is left at its best epoch so far and the checkpoint of
the last good epoch stays on disk.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import SysawareError
from ..stats.torch_model import SingularFisherError
from .checkpoint import Checkpoint

log = logging.getLogger(__name__)


class TrainingError(SysawareError, RuntimeError):
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
    #: the last epoch restored from a checkpoint (None: trained from the start)
    resumed_after: int | None = None

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
    checkpoint: Checkpoint | None = None,
) -> History:
    """Train ``net`` in place and leave it at the epoch with the lowest validation loss.

    ``batches(epoch)`` yields the batches of one epoch (seeded by the caller);
    ``loss_fn(net, batch)`` is the method's loss; ``valid_loss(net)`` is evaluated
    without gradients after every epoch.  A non-finite loss (or a singular INFERNO Hessian)
    raises :class:`TrainingError` after restoring the best state.  With ``checkpoint``, the
    state is saved after every epoch, a matching checkpoint on disk is resumed, and the file
    is removed when training ends normally; while training, the checkpoint is held
    (:meth:`Checkpoint.hold`), so a second process training the same model refuses to start.
    """
    with checkpoint.hold() if checkpoint is not None else nullcontext():
        return _fit(net, batches, loss_fn, valid_loss, settings, progress, checkpoint)


def _fit(
    net: nn.Module,
    batches: Callable[[int], Iterable[object]],
    loss_fn: Callable[[nn.Module, object], Tensor],
    valid_loss: Callable[[nn.Module], float],
    settings: TrainSettings,
    progress: Callable[[int, float, float], None] | None,
    checkpoint: Checkpoint | None,
) -> History:
    opt = make_optimizer(net, settings)
    hist = History()
    best_state = copy.deepcopy(net.state_dict())
    best = math.inf
    start, stopped = 0, False
    if checkpoint is not None and (blob := checkpoint.load()) is not None:
        net.load_state_dict(blob["net"])
        opt.load_state_dict(blob["optimizer"])
        best_state, best = blob["best_state"], float(blob["best"])
        hist = History(list(blob["train"]), list(blob["valid"]), int(blob["best_epoch"]), int(blob["epoch"]))
        torch.set_rng_state(blob["torch_rng"])
        start, stopped = int(blob["epoch"]) + 1, bool(blob["stopped"])
        log.info("resumed from checkpoint %s after epoch %d (best %d)", checkpoint.path, blob["epoch"], hist.best_epoch)
    for epoch in range(start, 0 if stopped else settings.epochs):
        net.train()
        total: Tensor | float = 0.0
        n = 0
        try:
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
                raise TrainingError(f"non-finite training loss in epoch {epoch}")
            net.eval()
            with torch.no_grad():
                v = float(valid_loss(net))
            if not math.isfinite(v):
                raise TrainingError(f"non-finite validation loss at epoch {epoch}")
        except (TrainingError, SingularFisherError) as err:
            net.load_state_dict(best_state)
            kept = f"kept epoch {hist.best_epoch}" if hist.best_epoch >= 0 else "kept the initial weights"
            if checkpoint is not None and hist.train:
                kept += f"; last good checkpoint: {checkpoint.path} (epoch {epoch - 1})"
            raise TrainingError(f"{err}; {kept}") from err
        hist.train.append(mean_train)
        hist.valid.append(v)
        if v < best:
            best, hist.best_epoch = v, epoch
            best_state = copy.deepcopy(net.state_dict())
        stopped = epoch - hist.best_epoch >= settings.patience
        if checkpoint is not None:
            checkpoint.save({
                "epoch": epoch, "stopped": stopped, "net": net.state_dict(), "optimizer": opt.state_dict(),
                "best_state": best_state, "best": best, "train": hist.train, "valid": hist.valid,
                "best_epoch": hist.best_epoch, "torch_rng": torch.get_rng_state(),
            })
        if progress is not None:
            progress(epoch, hist.train[-1], v)
        if stopped:
            log.info("early stop at epoch %d (best %d)", epoch, hist.best_epoch)
            break
    net.load_state_dict(best_state)
    if checkpoint is not None:
        checkpoint.remove()
    return hist
