"""Soft templates of a fit model from events: what INFERNO's loss fills its likelihood with.

Every analysis describes the events of each fit sample the same way (:class:`SampleEvents`):
the nominal events with their weights and the sample's expected yield, and per template
systematic side (``<systematic>_up`` / ``_down``) a :class:`Variation`:

* other events (the same events shifted, or the shifted sample's own events) with the yield of
  the shifted sample: ``total`` given;
* other events whose normalisation follows the nominal's (events lost by a cut after the shift
  lower the rate): ``total`` None;
* the nominal events with other weights (a weight systematic): ``x`` None, so the network's
  outputs of the nominal events are reused.

:func:`soft_templates` turns them into :class:`~sysaware.stats.Templates` of softmax
histograms (:func:`~sysaware.summaries.softmax_histogram`) scaled to the expected yields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..stats import ModelSpec, Templates
from ..summaries import softmax_histogram

SIDES = ("up", "down")


@dataclass
class Variation:
    """One side of a template systematic for one sample (see the module docstring)."""

    w: Tensor
    x: Tensor | None = None
    total: float | None = None


@dataclass
class SampleEvents:
    """A fit sample's events in one batch (or a whole split).

    ``total`` is the expected yield the nominal histogram is scaled to.  ``sumw2_divisor``
    (None: no MC statistical uncertainty) is the split's number of events over the batch's: the
    batch's sum of squared (scaled) weights divided by it estimates the split's (the staterror's
    input).
    """

    x: Tensor
    w: Tensor
    total: float
    variations: dict[str, Variation] = field(default_factory=dict)
    sumw2_divisor: float | None = None


def _scale(total: float, w: Tensor) -> Tensor:
    return total / w.sum().double().clamp_min(1e-300)


def soft_templates(
    net: nn.Module, events: Mapping[str, SampleEvents], systematics: Sequence[str], temperature: float
) -> Templates[Tensor]:
    """Soft-histogram templates (float64) of every sample: nominal, sumw2 and the systematics' sides."""
    nominal: dict[str, Tensor] = {}
    sumw2: dict[str, Tensor] = {}
    up: dict[str, dict[str, Tensor]] = {s: {} for s in systematics}
    down: dict[str, dict[str, Tensor]] = {s: {} for s in systematics}
    for name, e in events.items():
        logits = net(e.x)
        scale = _scale(e.total, e.w)
        nominal[name] = softmax_histogram(logits, e.w, temperature).double() * scale
        if e.sumw2_divisor is None:
            sumw2[name] = torch.zeros_like(nominal[name])
        else:
            sumw2[name] = softmax_histogram(logits, e.w * e.w, temperature).double() * scale**2 / e.sumw2_divisor
        for syst in systematics:
            for side, store in zip(SIDES, (up, down)):
                v = e.variations.get(f"{syst}_{side}")
                if v is None:
                    continue
                if v.x is None:
                    store[syst][name] = softmax_histogram(logits, v.w, temperature).double() * scale
                else:
                    h = softmax_histogram(net(v.x), v.w, temperature).double()
                    store[syst][name] = h * (scale if v.total is None else _scale(v.total, v.w))
    return Templates(nominal=nominal, sumw2=sumw2, up={k: v for k, v in up.items() if v},
                     down={k: v for k, v in down.items() if v})


class TemplateLikelihood:
    """The fit model's Asimov likelihood filled with :func:`soft_templates`; ``variance`` is INFERNO's loss.

    ``factor`` multiplies var(POI) (e.g. the benchmark's s = 50 mu reports var(s) = 2500 var(mu)).
    """

    def __init__(self, spec: ModelSpec, n_bins: int, systematics: Sequence[str], temperature: float,
                 factor: float = 1.0):
        from ..stats.torch_model import TorchModel

        self.model = TorchModel(spec, n_bins)
        self.systematics = list(systematics)
        self.temperature = float(temperature)
        self.factor = factor

    def variance(self, net: nn.Module, events: Mapping[str, SampleEvents]) -> Tensor:
        """var(POI) of the model filled with the soft templates of ``events``."""
        value = self.model.poi_variance(soft_templates(net, events, self.systematics, self.temperature))
        return value if self.factor == 1.0 else self.factor * value
