"""The HiggsML events as the training methods see them (:class:`HiggsMLData`, the data adaptor).

z is the relative tau-energy-scale shift.  Events are shifted with the recipe
(:meth:`~sysaware.higgsml.dataset.TESData.inputs_at`, tau pT cut after the shift: an event below
it is not ``kept`` at that z); where a method draws z, it is uniform on ``higgsml.tes.train_range``
per event and epoch.  INFERNO's likelihood is :func:`~sysaware.higgsml.model.higgsml_spec` (the
model of the final fit), filled with soft histograms of a batch of each sample at z = 0 and
z = +-sigma: the same events shifted, normalised like the nominal, so that the rate change of the
cut and the shape change are both seen event by event.  Every method of
:mod:`sysaware.train.methods` runs through :func:`sysaware.train.run.train`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..train.data import ClassEvents, Nuisance, seed_names
from ..train.templates import SampleEvents, TemplateLikelihood, Variation
from . import methods
from .dataset import TRAIN, VALID, TESData
from .model import TES, higgsml_spec

SPLIT_INDEX = {"train": TRAIN, "valid": VALID}


class _InfernoSplit:
    """One split per fit sample: nominal events and their copies at z = +-sigma."""

    def __init__(self, nominal: ClassEvents, up: ClassEvents, down: ClassEvents, sample: Tensor, names: list[str]):
        self.parts: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(names):
            idx = torch.nonzero(sample == k).flatten()
            w0 = nominal.w[idx] * nominal.kept[idx]
            self.parts[name] = {"idx": idx, "x": (nominal.x, up.x, down.x),
                                "w": (w0, nominal.w[idx] * up.kept[idx], nominal.w[idx] * down.kept[idx]),
                                "yield": float(w0.sum())}
        self.sizes = {name: len(p["idx"]) for name, p in self.parts.items()}

    def events(self, index: Mapping[str, Tensor] | None) -> dict[str, SampleEvents]:
        out = {}
        for name, p in self.parts.items():
            j = None if index is None else index[name]
            idx = p["idx"] if j is None else p["idx"][j]
            w0, wu, wd = (w if j is None else w[j] for w in p["w"])
            x0, xu, xd = (x[idx] for x in p["x"])
            out[name] = SampleEvents(x=x0, w=w0, total=p["yield"], variations={
                f"{TES}_up": Variation(w=wu, x=xu), f"{TES}_down": Variation(w=wd, x=xd)})
        return out


class HiggsMLData:
    """The data adaptor of the HiggsML analysis (:class:`~sysaware.train.data.TrainingData`)."""

    tag = "higgsml"
    balanced_batches = False

    def __init__(self, cfg: Mapping[str, Any], data: TESData):
        self.cfg, self.data = cfg, data
        tes = cfg["higgsml"]["tes"]
        lo, hi = (float(v) for v in tes["train_range"])
        self.sigma = float(tes["sigma"])
        self.nuisance = Nuisance("tes", self.sigma, low=lo, high=hi, true_values=tuple(float(v) for v in tes["true_values"]))
        self.features = list(data.features)
        self.n_inputs = len(self.features)
        self.capabilities = methods.capabilities(cfg)

    def seed_names(self, stage: str, model: str, repeat: int) -> tuple[object, ...]:
        """``higgsml_<stage>``, the model name (and the repeat when not 0)."""
        return seed_names(self.tag, stage, model, repeat)

    def variants(self, cfg: Mapping[str, Any], method: Any) -> list[str] | None:
        """See :func:`sysaware.higgsml.methods.variants`."""
        return methods.variants(cfg, method)

    def classes(self, split: str, z: np.ndarray | float | None, device: torch.device) -> ClassEvents:
        """The split's events through the TES recipe at z (None: z = 0)."""
        rows = self.data.rows(SPLIT_INDEX[split])
        x, kept = self.data.inputs_at(rows, 0.0 if z is None else z)
        return ClassEvents(
            x=torch.from_numpy(x).to(device),
            y=torch.from_numpy(self.data.is_signal(rows).astype(np.float32)).to(device),
            w=torch.from_numpy(self.data.weight[rows].astype(np.float32)).to(device),
            kept=torch.from_numpy(kept).to(device),
        )

    def inferno_split(self, split: str, device: torch.device) -> _InfernoSplit:
        """Each sample's events at z = 0 and +-sigma."""
        n = len(self.data.rows(SPLIT_INDEX[split]))
        nominal = self.classes(split, 0.0, device)
        up = self.classes(split, np.full(n, self.sigma), device)
        down = self.classes(split, np.full(n, -self.sigma), device)
        sample = torch.from_numpy(self.data.sample[self.data.rows(SPLIT_INDEX[split])]).to(device)
        return _InfernoSplit(nominal, up, down, sample, higgsml_spec(self.cfg).sample_names)

    def inferno_likelihood(self, variant: str | None) -> TemplateLikelihood:
        """The fit model with the TES templates at +-sigma."""
        t = self.cfg["training"]
        return TemplateLikelihood(higgsml_spec(self.cfg), int(t["n_bins"]), [TES], float(t["temperature"]))
