"""The tau+jets samples as the training methods see them (:class:`CMSData`, the data adaptor).

Classifiers: the signal (``ttbar_taujets``) against every other fit sample, each class weighted
to equal total weight.  The nuisance z of the z-methods is the jet energy scale in units of its
sigma, at the values the events exist at: nominal (0) and the JES-shifted copies (+-1), paired
by (run, lumi, event); an event drawn at a z whose copy failed the selection is not kept.

INFERNO: the loss is var(mu), the POI entry of the inverse Hessian of the Asimov likelihood of
:func:`~sysaware.cms.model.cms_spec` (the model of the final fit), filled with soft histograms
of a batch of each sample:

* nominal: the batch's events, scaled to the sample's expected yield;
* object-level systematics (JES, JER, TES): the shifted copies of the same events, scaled to the
  yield of the shifted sample, so the rate change is exact and the shape change is seen event
  by event;
* weight-level systematics (b-tag): the batch's events with their up/down weights;
* normalisation systematics and the free QCD normalisation enter through the model.
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
from .dataset import FitSample
from .objects.features import FEATURE_NAMES
from .model import SIGNAL, cms_spec, shape_systematics

SPLIT_INDEX = {"train": 0, "valid": 1}


class _Split:
    """Tensors of one split of one fit sample: nominal rows and their shifted copies."""

    def __init__(self, s: FitSample, split: int, device: torch.device):
        rows = np.flatnonzero(s.nominal.split == split)
        scale = s.split_scale(split)
        self.x = torch.from_numpy(s.nominal.x[rows]).to(device)
        self.w = torch.from_numpy(s.nominal.weight[rows] * scale).to(device)
        self.wvar = {k: torch.from_numpy(v[rows] * scale).to(device) for k, v in s.nominal.weights.items()}
        self.yield_nominal = float(s.nominal.weight[rows].sum() * scale)
        self.shifted: dict[str, tuple[Tensor, Tensor, Tensor, float]] = {}
        self.copy: dict[str, Tensor] = {}  # per nominal row: its copy's position in shifted[var], -1 if none
        for var, v in s.shifted.items():
            pair = s.pairs[var][rows]
            have = np.flatnonzero(pair >= 0)
            in_split = v.split == split
            self.shifted[var] = (
                torch.from_numpy(have).to(device),
                torch.from_numpy(v.x[pair[have]]).to(device),
                torch.from_numpy(v.weight[pair[have]] * scale).to(device),
                float(v.weight[in_split].sum() * scale),  # the shifted sample's own yield
            )
            position = np.full(len(rows), -1, dtype=np.int64)
            position[have] = np.arange(len(have))
            self.copy[var] = torch.from_numpy(position).to(device)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def at(self, z: np.ndarray, nuisance: str) -> tuple[Tensor, Tensor, Tensor]:
        """(inputs, weights, kept) with every row at its z (-1, 0 or +1 sigma of ``nuisance``)."""
        x, w = self.x.clone(), self.w.clone()
        kept = torch.ones(len(self), dtype=torch.bool, device=self.x.device)
        zt = torch.from_numpy(np.array(z, dtype=np.float64)).to(self.x.device)
        for value, side in ((1.0, "up"), (-1.0, "down")):
            var = f"{nuisance}_{side}"
            rows = torch.nonzero(zt == value).flatten()
            pos = self.copy[var][rows]
            have = pos >= 0
            _, xs, ws, _ = self.shifted[var]
            x[rows[have]], w[rows[have]] = xs[pos[have]], ws[pos[have]]
            kept[rows[~have]] = False
        return x, w, kept

    def events(self, idx: Tensor | None, systematics: list[str]) -> SampleEvents:
        """The rows ``idx`` (sorted; all where None) for the INFERNO templates."""
        x = self.x if idx is None else self.x[idx]
        w = self.w if idx is None else self.w[idx]
        variations = {}
        for syst in systematics:
            for side in ("up", "down"):
                key = f"{syst}_{side}"
                if key in self.wvar:  # weight-level: same events (same outputs), varied weights, nominal's scale
                    variations[key] = Variation(w=self.wvar[key] if idx is None else self.wvar[key][idx])
                elif key in self.shifted:
                    have, xs, ws, total = self.shifted[key]
                    if idx is not None:  # the batch's events that have a shifted copy
                        pos = torch.searchsorted(have, idx)
                        pos = pos.clamp(max=max(len(have) - 1, 0))
                        keep = have[pos] == idx if len(have) else torch.zeros_like(idx, dtype=torch.bool)
                        xs, ws = xs[pos[keep]], ws[pos[keep]]
                    variations[key] = Variation(w=ws, x=xs, total=total)
        divisor = 1.0 if idx is None else len(self) / max(len(idx), 1)
        return SampleEvents(x=x, w=w, total=self.yield_nominal, variations=variations, sumw2_divisor=divisor)


class _InfernoSplit:
    def __init__(self, parts: Mapping[str, _Split], systematics: list[str]):
        self.parts, self.systematics = parts, systematics
        self.sizes = {name: len(p) for name, p in parts.items()}

    def events(self, index: Mapping[str, Tensor] | None) -> dict[str, SampleEvents]:
        return {name: p.events(None if index is None else torch.sort(index[name]).values, self.systematics)
                for name, p in self.parts.items()}


class CMSData:
    """The data adaptor of the tau+jets analysis (:class:`~sysaware.train.data.TrainingData`)."""

    tag = "cms"
    balanced_batches = False
    features = list(FEATURE_NAMES)
    n_inputs = len(FEATURE_NAMES)

    def __init__(self, cfg: Mapping[str, Any], samples: Mapping[str, FitSample]):
        self.cfg, self.samples = cfg, samples
        self.capabilities = methods.capabilities(cfg)
        self.nuisance = (Nuisance(methods.NUISANCE, 1.0, values=methods.NUISANCE_VALUES)
                         if "nuisance" in self.capabilities else None)
        self._splits: dict[tuple[str, str], dict[str, _Split]] = {}

    def seed_names(self, stage: str, model: str, repeat: int) -> tuple[object, ...]:
        """``cms_<stage>``, the method (and the repeat when not 0)."""
        return seed_names(self.tag, stage, model, repeat)

    def variants(self, cfg: Mapping[str, Any], method: Any) -> list[str] | None:
        """No variants (one model per method)."""
        return methods.variants(cfg, method)

    def _parts(self, split: str, device: torch.device) -> dict[str, _Split]:
        key = (split, str(device))
        if key not in self._splits:
            parts = {n: _Split(s, SPLIT_INDEX[split], device) for n, s in self.samples.items()}
            empty = [n for n, p in parts.items() if len(p) == 0]
            if empty:
                raise ValueError(f"no {split} events for the fit samples {sorted(empty)}; more events or another cms.split")
            self._splits[key] = parts
        return self._splits[key]

    def classes(self, split: str, z: np.ndarray | float | None, device: torch.device) -> ClassEvents:
        """Signal against the rest, at the JES value of every event (None: nominal)."""
        parts = self._parts(split, device)
        sizes = np.cumsum([0] + [len(p) for p in parts.values()])
        xs, ys, ws, keeps = [], [], [], []
        for k, (name, p) in enumerate(parts.items()):
            if z is None:
                x, w, kept = p.x, p.w, torch.ones(len(p), dtype=torch.bool, device=p.x.device)
            else:
                zz = np.broadcast_to(np.asarray(z, dtype=np.float64), (int(sizes[-1]),))[sizes[k]:sizes[k + 1]]
                x, w, kept = p.at(zz, methods.NUISANCE)
            xs.append(x)
            ys.append(torch.full((len(p),), float(name == SIGNAL), dtype=p.x.dtype, device=p.x.device))
            ws.append(w)
            keeps.append(kept)
        return ClassEvents(x=torch.cat(xs), y=torch.cat(ys), w=torch.cat(ws), kept=torch.cat(keeps))

    def inferno_split(self, split: str, device: torch.device) -> _InfernoSplit:
        """Every fit sample's events, nominal and shifted."""
        return _InfernoSplit(self._parts(split, device), shape_systematics(self.cfg))

    def inferno_likelihood(self, variant: str | None) -> TemplateLikelihood:
        """The fit model with every shape systematic's templates."""
        t = self.cfg["training"]
        return TemplateLikelihood(cms_spec(self.cfg), int(t["n_bins"]), shape_systematics(self.cfg), float(t["temperature"]))
