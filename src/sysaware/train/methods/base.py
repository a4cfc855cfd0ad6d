"""What a training method is: its name, what it needs from the data, how its network is built.

A method is defined once, in its own module of :mod:`sysaware.train.methods` (``METHOD``), and
runs in every analysis whose data provide what it needs (:data:`CAPABILITIES`):

``likelihood``  the fit's own model, filled with soft histograms (INFERNO's loss);
``nuisance``    a nuisance z the events can be shifted to, per event (the z-methods);
``true_values`` true values of that nuisance to train at (``true_z``).

The modules stay free of torch at import (the Snakefile lists methods when it is parsed); the
training code they point to is imported when a model is trained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

CAPABILITIES = ("likelihood", "nuisance", "true_values")

Summary = Literal["classifier", "histogram"]
ZMode = Literal["none", "random", "true"]


@dataclass(frozen=True)
class Method:
    """One training method (``order``: its place in tables and listings).

    ``summary``: ``classifier`` (one logit, cross-entropy and optionally a penalty) or
    ``histogram`` (one softmax output per bin, the loss built from the fit model).
    ``z``: the nuisance value of the training events: ``none`` (nominal), ``random`` (drawn
    per event and epoch from the analysis's training distribution) or ``true`` (one model per
    true value: ``<name>_<k>``).  ``z_input``: the network takes z as an extra input.
    ``penalty``: for a classifier, the factory of the term added to its cross-entropy,
    ``penalty(options, learners)`` (see :mod:`sysaware.train.classifier`).  A histogram
    summary's loss is the variance of the POI in the analysis's likelihood
    (:mod:`sysaware.train.histogram`).
    """

    name: str
    doc: str
    order: int
    requires: tuple[str, ...] = ()
    summary: Summary = "classifier"
    z: ZMode = "none"
    z_input: bool = False
    penalty: Callable[[Mapping[str, Any], dict[str, Any]], Any] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.requires) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"method {self.name!r}: unknown requirements {sorted(unknown)} (known: {CAPABILITIES})")

    def supported_by(self, capabilities: set[str] | frozenset[str]) -> bool:
        """True when data with these capabilities give the method what it needs."""
        return set(self.requires) <= set(capabilities)
