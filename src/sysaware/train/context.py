"""What one training run knows (:class:`Context`) and what a method family builds for it (:class:`Objective`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .methods.base import Method


@dataclass(frozen=True)
class Context:
    """One model's training: the run config, the method and its variant, the model's name and
    repeat index, the device and the seeded batch generator."""

    cfg: Mapping[str, Any]
    method: Method
    variant: str | None
    model: str
    repeat: int
    device: torch.device
    gen: torch.Generator

    @property
    def seed(self) -> int:
        """The config's base seed."""
        return int(self.cfg["seed"])


@dataclass(frozen=True)
class Objective:
    """What :func:`sysaware.train.loop.fit` runs: ``batches(epoch)``, ``loss(net, batch)``, ``valid(net)``."""

    batches: Callable[[int], Iterable[Any]]
    loss: Callable[[nn.Module, Any], Tensor]
    valid: Callable[[nn.Module], float]
