"""BCE and INFERNO training on the tau+jets samples, through the common training loop.

BCE: the signal (``ttbar_taujets``) against every other sample, each class weighted to equal
total weight, on nominal events.

INFERNO: the loss is var(mu), the POI entry of the inverse Hessian of the Asimov likelihood of
:func:`~sysaware.cms.model.cms_spec` (the model of the final fit), filled with soft histograms
(softmax with a temperature) of a batch of each sample:

* nominal: the batch's events, scaled to the sample's expected yield;
* object-level systematics (JES, JER, TES): the shifted copies of the same events (paired by
  run, lumi, event), scaled to the yield of the shifted sample, so the rate change is exact and
  the shape change is seen event by event;
* weight-level systematics (b-tag): the batch's events with their up/down weights;
* normalisation systematics and the free QCD normalisation enter through the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..benchmark.losses import bce_loss
from ..seeding import torch_generator
from ..stats import Templates
from ..stats.torch_model import TorchModel
from ..summaries import softmax_histogram
from ..train.checkpoint import training_checkpoint
from ..train.loop import History, TrainSettings, fit
from ..train.networks import make_mlp, resolve_device
from .dataset import FitSample
from .model import SIGNAL, cms_spec, shape_systematics
from .names import METHODS
from .objects.features import FEATURE_NAMES

log = logging.getLogger(__name__)
TRAIN, VALID = 0, 1


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

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _soft(net: nn.Module, x: Tensor, w: Tensor, total: float, temperature: float) -> Tensor:
    """Soft histogram of ``x`` weighted by ``w``, scaled to ``total`` expected events (float64)."""
    h = softmax_histogram(net(x), w, temperature).double()
    return h * (total / w.sum().double().clamp_min(1e-300))


def inferno_templates(
    net: nn.Module,
    parts: Mapping[str, _Split],
    index: Mapping[str, Tensor | None],
    systematics: list[str],
    temperature: float,
) -> Templates[Tensor]:
    """Soft templates of the fit model from the rows ``index[sample]`` (all rows where None)."""
    nominal, sumw2 = {}, {}
    up, down = {syst: {} for syst in systematics}, {syst: {} for syst in systematics}
    for name, p in parts.items():
        idx = index[name]
        x = p.x if idx is None else p.x[idx]
        w = p.w if idx is None else p.w[idx]
        logits = net(x)
        scale = p.yield_nominal / w.sum().double().clamp_min(1e-300)  # batch -> the sample's expected yield
        nominal[name] = softmax_histogram(logits, w, temperature).double() * scale
        # sum of squared weights of the whole split, estimated from the batch (the staterror's input)
        frac = 1.0 if idx is None else len(p) / max(len(idx), 1)
        sumw2[name] = softmax_histogram(logits, w * w, temperature).double() * scale**2 / frac
        for syst in systematics:
            for side, store in (("up", up), ("down", down)):
                key = f"{syst}_{side}"
                if key in p.wvar:  # weight-level: same events (same outputs), varied weights, nominal's scale
                    wv = p.wvar[key] if idx is None else p.wvar[key][idx]
                    store[syst][name] = softmax_histogram(logits, wv, temperature).double() * scale
                elif key in p.shifted:
                    have, xs, ws, total = p.shifted[key]
                    if idx is not None:  # the batch's events that have a shifted copy
                        pos = torch.searchsorted(have, idx)
                        pos = pos.clamp(max=max(len(have) - 1, 0))
                        keep = have[pos] == idx if len(have) else torch.zeros_like(idx, dtype=torch.bool)
                        xs, ws = xs[pos[keep]], ws[pos[keep]]
                    store[syst][name] = _soft(net, xs, ws, total, temperature)
    return Templates(nominal=nominal, sumw2=sumw2, up={k: v for k, v in up.items() if v},
                     down={k: v for k, v in down.items() if v})


def train(
    cfg: Mapping[str, Any],
    method: str,
    samples: Mapping[str, FitSample],
    progress: Callable[[int, float, float], None] | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[nn.Sequential, dict[str, Any], History]:
    """Train ``bce`` or ``inferno`` on the train split; best epoch by the valid split's loss.

    ``checkpoint``: file of per-epoch checkpoints (see :mod:`sysaware.train.checkpoint`).
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r} not in {METHODS}")
    tcfg = cfg["training"]
    device = resolve_device(tcfg.get("device", "auto"))
    gen = torch_generator(cfg["seed"], "cms_train", method)
    train_parts = {n: _Split(s, TRAIN, device) for n, s in samples.items()}
    valid_parts = {n: _Split(s, VALID, device) for n, s in samples.items()}
    empty = [n for n, p in {**train_parts}.items() if len(p) == 0] + [n for n, p in valid_parts.items() if len(p) == 0]
    if empty:
        raise ValueError(f"no training/validation events for samples {sorted(set(empty))}; more events or another cms.split")
    x_all = torch.cat([p.x for p in train_parts.values()])
    n_out = 1 if method == "bce" else int(tcfg["n_bins"])
    net = make_mlp(len(FEATURE_NAMES), n_out, tcfg["hidden"], tcfg["activation"], x_all.mean(0).cpu(), x_all.std(0).cpu())
    net.to(device)
    batch = int(tcfg["batch_size"])
    settings = TrainSettings(epochs=int(tcfg["epochs"]), lr=float(tcfg["lr"]), optimizer=tcfg["optimizer"],
                             patience=int(tcfg["patience"]))
    if method == "bce":
        x, y, w = _bce_arrays(train_parts)
        xv, yv, wv = _bce_arrays(valid_parts)

        def batches(_: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
            perm = torch.randperm(len(x), generator=gen).to(device)
            for i in range(0, len(perm), batch):
                j = perm[i : i + batch]
                yield x[j], y[j], w[j]

        def loss_fn(net: nn.Module, b: tuple[Tensor, Tensor, Tensor]) -> Tensor:
            return bce_loss(net, b[0], b[1], b[2] / b[2].mean())

        def valid(net: nn.Module) -> float:
            return float(bce_loss(net, xv, yv, wv / wv.mean()))

    else:
        spec = cms_spec(cfg)
        systs = shape_systematics(cfg)
        temperature = float(tcfg["temperature"])
        model = TorchModel(spec, n_out)
        per_sample = max(batch // len(train_parts), 2)

        def batches(_: int) -> Iterator[dict[str, Tensor]]:
            perms = {n: torch.randperm(len(p), generator=gen) for n, p in train_parts.items()}
            n_steps = max(1, max(len(p) for p in train_parts.values()) // per_sample)
            for k in range(n_steps):
                out = {}
                for n, perm in perms.items():
                    j = (torch.arange(k * per_sample, (k + 1) * per_sample) % len(perm))
                    out[n] = torch.sort(perm[j]).values.to(device)
                yield out

        def loss_fn(net: nn.Module, idx: dict[str, Tensor]) -> Tensor:
            return model.poi_variance(inferno_templates(net, train_parts, idx, systs, temperature))

        def valid(net: nn.Module) -> float:
            idx = {n: None for n in valid_parts}
            return float(model.poi_variance(inferno_templates(net, valid_parts, idx, systs, temperature)))

    ckpt = training_checkpoint(checkpoint, cfg, ("cms", method), gen)
    hist = fit(net, batches, loss_fn, valid, settings, progress, ckpt)
    net.cpu()
    meta = {
        "n_inputs": len(FEATURE_NAMES),
        "n_outputs": n_out,
        "hidden": list(tcfg["hidden"]),
        "activation": tcfg["activation"],
        "method": method,
        "repeat": 0,
        "features": list(FEATURE_NAMES),
        "best_epoch": hist.best_epoch,
        "best_valid_loss": hist.best_valid,
    }
    return net, meta, hist


def _bce_arrays(parts: Mapping[str, _Split]) -> tuple[Tensor, Tensor, Tensor]:
    """Features, labels and class-balanced weights (each class sums to one)."""
    xs, ys, ws = [], [], []
    total = {True: sum(float(p.w.sum()) for n, p in parts.items() if n == SIGNAL),
             False: sum(float(p.w.sum()) for n, p in parts.items() if n != SIGNAL)}
    for n, p in parts.items():
        is_sig = n == SIGNAL
        xs.append(p.x)
        ys.append(torch.full((len(p),), float(is_sig), dtype=p.x.dtype, device=p.x.device))
        ws.append((p.w / total[is_sig]).to(p.x.dtype))
    return torch.cat(xs), torch.cat(ys), torch.cat(ws)
