"""The benchmark's events as the training methods see them (:class:`BenchmarkData`, the data adaptor).

Signal and background events of the mixture (equal numbers per class, unweighted: every batch
holds half of each, :attr:`balanced_batches`).  The nuisance z is the background shift r: a
background event at z is moved by :func:`~sysaware.benchmark.mixture.shift_background` (exact in
distribution); signal events do not depend on it.  INFERNO's likelihood is benchmark k's, k from
the model name (``inferno_bm<k>``), with r and lam applied exactly or through HistFactory
templates as ``methods.inferno.nuisance_mode`` says (:func:`~sysaware.benchmark.losses.inferno_loss`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..train.data import ClassEvents, Nuisance
from . import methods
from .losses import inferno_loss
from .mixture import shift_background
from .model import NOMINAL, VARIATION


class _InfernoSplit:
    """Signal and background events of one split; a batch is (signal rows, background rows)."""

    def __init__(self, xs: Tensor, xb: Tensor):
        self.xs, self.xb = xs, xb
        self.sizes = {"sig": len(xs), "bkg": len(xb)}

    def events(self, index: Mapping[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        if index is None:
            return self.xs, self.xb
        return self.xs[index["sig"]], self.xb[index["bkg"]]


class _Likelihood:
    """var(s) of benchmark k (:func:`~sysaware.benchmark.losses.inferno_loss`)."""

    def __init__(self, benchmark: int, temperature: float, mode: str):
        self.benchmark, self.temperature, self.mode = benchmark, temperature, mode

    def variance(self, net: nn.Module, events: tuple[Tensor, Tensor]) -> Tensor:
        return inferno_loss(net, events[0], events[1], self.benchmark, self.temperature, self.mode)


class BenchmarkData:
    """The data adaptor of the INFERNO benchmark (:class:`~sysaware.train.data.TrainingData`)."""

    tag = "benchmark"
    balanced_batches = True
    features = ["x0", "x1", "x2"]
    n_inputs = 3

    def __init__(self, cfg: Mapping[str, Any], data: Mapping[str, np.ndarray]):
        self.cfg, self.data = cfg, data
        lo, hi = (float(v) for v in cfg["benchmark"]["z_train_range"])
        self.nuisance = Nuisance("r", VARIATION["r"], low=lo, high=hi, true_values=methods.TRUE_VALUES)
        self.capabilities = methods.capabilities(cfg)
        self._tensors: dict[tuple[str, str], tuple[Tensor, Tensor]] = {}

    def seed_names(self, stage: str, model: str, repeat: int) -> tuple[object, ...]:
        """``train``: ("train", model, repeat) (the names the benchmark has always used); else
        ``benchmark_<stage>``, the model and the repeat."""
        if stage == "train":
            return ("train", model, repeat)
        return (f"{self.tag}_{stage}", model, repeat)

    def variants(self, cfg: Mapping[str, Any], method: Any) -> list[str] | None:
        """See :func:`sysaware.benchmark.methods.variants`."""
        return methods.variants(cfg, method)

    def _events(self, split: str, device: torch.device) -> tuple[Tensor, Tensor]:
        key = (split, str(device))
        if key not in self._tensors:
            self._tensors[key] = tuple(torch.from_numpy(self.data[f"{c}_{split}"]).to(device) for c in ("xs", "xb"))
        return self._tensors[key]

    def classes(self, split: str, z: np.ndarray | float | None, device: torch.device) -> ClassEvents:
        """Signal then background; the background moved to r = z (one per event, or one for all)."""
        xs, xb = self._events(split, device)
        if z is not None:
            r = np.broadcast_to(np.asarray(z, dtype=np.float32), (len(xs) + len(xb),))[len(xs):]
            xb = shift_background(xb, torch.from_numpy(r.copy()).to(device), NOMINAL["lam"])
        n = len(xs) + len(xb)
        y = torch.cat([torch.ones(len(xs), device=device), torch.zeros(len(xb), device=device)])
        return ClassEvents(x=torch.cat([xs, xb]), y=y, w=torch.ones(n, device=device),
                           kept=torch.ones(n, dtype=torch.bool, device=device))

    def inferno_split(self, split: str, device: torch.device) -> _InfernoSplit:
        """The split's signal and nominal background events."""
        return _InfernoSplit(*self._events(split, device))

    def inferno_likelihood(self, variant: str | None) -> _Likelihood:
        """Benchmark k's var(s), ``variant`` = ``bm<k>``."""
        t = self.cfg["training"]
        return _Likelihood(int(str(variant).removeprefix("bm")), float(t["temperature"]),
                           self.cfg["methods"]["inferno"]["nuisance_mode"])
