"""What an analysis gives the training methods: its data adaptor (:class:`TrainingData`).

An analysis plugs its events into every method by implementing this protocol once: features,
labels and weights of the train and valid splits, the same events shifted to any value of its
nuisance z (per event), and its fit model filled with soft histograms (INFERNO).  Which
methods it can train follows from what it provides (``capabilities``, see
:mod:`sysaware.train.methods.base`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

SPLITS = ("train", "valid")


def balanced_weights(y: Tensor, w: Tensor, kept: Tensor) -> Tensor:
    """Weights of the kept events with each class (``y`` 1 or 0) summing to one; 0 for the others."""
    w = w * kept
    out = torch.zeros_like(w)
    for cls in (0.0, 1.0):
        m = y == cls
        out[m] = w[m] / w[m].sum().clamp_min(1e-30)
    return out


@dataclass
class ClassEvents:
    """One split as the classifiers see it: inputs, labels (1: signal), event weights, kept mask.

    ``kept`` is False for events that the shift to z removes (e.g. below a cut after the shift,
    or without a shifted copy).
    """

    x: Tensor
    y: Tensor
    w: Tensor
    kept: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def balanced(self, kept: Tensor | None = None) -> Tensor:
        """:func:`balanced_weights` of these events (over ``kept``, default their own mask), as float32."""
        return balanced_weights(self.y, self.w, self.kept if kept is None else kept).to(self.x.dtype)


@dataclass(frozen=True)
class Nuisance:
    """The nuisance z the z-methods see: its name, its 1-sigma, its training distribution.

    z is drawn per event from ``values`` (discrete: the shifted copies an analysis has) or
    uniformly on ``[low, high]``.  The adversary and DisCo see ``z / sigma``; a network with z as
    input gets z standardised by the training distribution's mean and standard deviation.
    ``true_values``: the truths ``true_z`` trains at (empty: none).
    """

    name: str
    sigma: float
    low: float | None = None
    high: float | None = None
    values: tuple[float, ...] | None = None
    true_values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError(f"nuisance {self.name!r}: give either values or low and high")

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values of z from the training distribution."""
        if self.values is not None:
            return np.asarray(self.values, dtype=np.float64)[rng.integers(0, len(self.values), size=n)]
        return rng.uniform(self.low, self.high, size=n)

    def input_scaling(self) -> tuple[float, float]:
        """Mean and standard deviation of the training distribution (the z input's standardisation)."""
        if self.values is not None:
            v = np.asarray(self.values, dtype=np.float64)
            return float(v.mean()), float(v.std())
        return (self.low + self.high) / 2, (self.high - self.low) / 12**0.5


class InfernoSplit(Protocol):
    """One split of the events INFERNO's likelihood is filled with."""

    sizes: dict[str, int]

    def events(self, index: Mapping[str, Tensor] | None) -> Any:
        """The events of a batch (``index[sample]``: rows of each sample), or of the whole split (None),
        in the form the analysis's likelihood reads (usually ``dict[str, SampleEvents]``)."""


class Likelihood(Protocol):
    """The fit model's POI variance as a function of the summary network (INFERNO's loss)."""

    def variance(self, net: nn.Module, events: Any) -> Tensor:
        """var(POI) of the Asimov likelihood filled with the soft histograms of ``events``."""


class TrainingData(Protocol):
    """The data adaptor of one analysis (see the module docstring).

    ``tag`` names the analysis in checkpoints; ``n_inputs`` and ``features`` describe the network
    inputs; ``balanced_batches``: the classifiers' batches hold equal numbers of signal and
    background events, unweighted (True), or are slices of all events with class-balanced
    weights (False); ``nuisance``: the z of the z-methods (None: no such methods).
    """

    tag: str
    n_inputs: int
    features: list[str]
    balanced_batches: bool
    nuisance: Nuisance | None
    capabilities: frozenset[str]

    def seed_names(self, stage: str, model: str, repeat: int) -> tuple[object, ...]:
        """Names the seeds of one model's ``stage`` (``train``: batches and initial weights; ``z``:
        the nuisance draws; ``valid_subset``) derive from, with the config seed."""

    def classes(self, split: str, z: np.ndarray | float | None, device: torch.device) -> ClassEvents:
        """The split's events at the nuisance value z (one per event, one for all, or None: nominal)."""

    def inferno_split(self, split: str, device: torch.device) -> InfernoSplit:
        """The split's events for INFERNO's likelihood."""

    def inferno_likelihood(self, variant: str | None) -> Likelihood:
        """The likelihood INFERNO's loss is the POI variance of (``variant``: e.g. the benchmark column)."""

    def variants(self, cfg: Mapping[str, Any], method: Any) -> list[str] | None:
        """Model-name suffixes of ``method`` (``true_z``: one per true value), or None for one model."""


def seed_names(tag: str, stage: str, model: str, repeat: int) -> tuple[object, ...]:
    """The usual seed names of :meth:`TrainingData.seed_names`: ``<tag>_<stage>``, the model, and the
    repeat index when it is not 0."""
    return (f"{tag}_{stage}", model) + ((repeat,) if repeat else ())


def class_index(sizes: Sequence[int], index: Mapping[str, Tensor]) -> Tensor:
    """Rows of the concatenated classes (signal first) of per-class batch indices."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return torch.cat([index[name] + int(off) for name, off in zip(index, offsets)])
