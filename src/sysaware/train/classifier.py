"""The classifier family of methods (bce, augment, aware, pivot, disco, true_z): one code path.

One logit, binary cross-entropy, plus the method's penalty if it has one
(:attr:`~sysaware.train.methods.base.Method.penalty`).  The events are nominal, at the true z of
a ``true_z`` model, or shifted to a z drawn per event and epoch (``z = "random"``); with
``z_input`` the network sees z as an extra input.  Batches are slices of all events with
class-balanced weights, or equal halves of signal and background without weights, as the
analysis's data say (:attr:`~sysaware.train.data.TrainingData.balanced_batches`).  The
validation loss uses one fixed draw of z; a penalty's validation term is evaluated on at most
:data:`PENALTY_VALID_EVENTS` events per class (the distance correlation is O(n^2) in memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..seeding import rng_for, torch_generator
from .batches import per_sample_batches, pooled_batches
from .context import Context, Objective
from .data import TrainingData, class_index
from .losses import bce_loss

PENALTY_VALID_EVENTS = 3000


def z_input(x: Tensor, z: np.ndarray | float) -> Tensor:
    """``x`` with the column z appended (one value per event, or one for all)."""
    zz = torch.as_tensor(np.broadcast_to(np.asarray(z, dtype=np.float32), (len(x),)).copy()).to(x.device)
    return torch.cat([x, zz[:, None]], dim=1)


def valid_subset(y: Tensor, keep: Tensor, seed: int) -> Tensor:
    """Indices of at most :data:`PENALTY_VALID_EVENTS` kept events per class (drawn once, seeded)."""
    out = []
    for cls in (0.0, 1.0):
        idx = torch.nonzero((y == cls) & keep).flatten()
        if len(idx) > PENALTY_VALID_EVENTS:
            g = torch.Generator()
            g.manual_seed(seed)
            idx = idx[torch.randperm(len(idx), generator=g)[:PENALTY_VALID_EVENTS].to(idx.device)]
        out.append(idx)
    return torch.cat(out)


class Setup:
    """A classifier training before its network exists: inputs, their standardisation, one output."""

    def __init__(self, ctx: Context, data: TrainingData):
        self.ctx, self.data = ctx, data
        method = ctx.method
        if method.z != "none" and data.nuisance is None:
            raise ValueError(f"method {method.name!r} needs a nuisance z, which {data.tag} does not provide")
        self.z_fixed = None if method.z != "true" else data.nuisance.true_values[int(ctx.variant)]
        self.tr = data.classes("train", self.z_fixed, ctx.device)
        self.va = data.classes("valid", self.z_fixed, ctx.device)
        mean, std = self.tr.x.mean(0).cpu(), self.tr.x.std(0).cpu()
        if method.z_input:
            m, s = data.nuisance.input_scaling()
            mean, std = torch.cat([mean, torch.tensor([m])]), torch.cat([std, torch.tensor([s])])
        self.mean, self.std = mean, std
        self.n_inputs = data.n_inputs + int(method.z_input)
        self.n_outputs = 1

    def _draw(self, n: int, *key: object) -> np.ndarray:
        ctx = self.ctx
        names = self.data.seed_names("z", ctx.model, ctx.repeat)
        return self.data.nuisance.draw(rng_for(ctx.seed, *names, *key), n)

    def _at(self, split: str, z: np.ndarray) -> tuple[Tensor, Tensor]:
        ev = self.data.classes(split, z, self.ctx.device)
        return (z_input(ev.x, z) if self.ctx.method.z_input else ev.x), ev.kept

    def objective(self, net: nn.Module, learners: dict[str, Any]) -> Objective:
        """Batches, loss and validation loss; a penalty's learners (the pivot's adversary) join ``learners``."""
        ctx, data, method = self.ctx, self.data, self.ctx.method
        tr, va = self.tr, self.va
        random_z = method.z == "random"
        sigma = data.nuisance.sigma if data.nuisance is not None else 1.0
        batch, gen, device = int(ctx.cfg["training"]["batch_size"]), ctx.gen, ctx.device
        zv = self._draw(len(va), "valid") if random_z else None
        if random_z:
            xv, kv = self._at("valid", zv)
        else:
            xv, kv = (z_input(va.x, self.z_fixed) if method.z_input else va.x), va.kept
        wv = va.balanced(kv)
        half = max(batch // 2, 1)
        sizes = [int((tr.y == 1).sum()), int((tr.y == 0).sum())]

        def batches(epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor | None, Tensor, int]]:
            if random_z:
                z = self._draw(len(tr), "epoch", epoch)
                x, kept = self._at("train", z)
                zt = torch.from_numpy(z.astype(np.float32) / sigma).to(device)
            else:
                x, kept, zt = (z_input(tr.x, self.z_fixed) if method.z_input else tr.x), tr.kept, torch.zeros(len(tr), device=device)
            if data.balanced_batches:
                for idx in per_sample_batches({"signal": sizes[0], "background": sizes[1]}, half, gen):
                    j = class_index(sizes, idx).to(device)
                    yield x[j], tr.y[j], None, zt[j], epoch
                return
            w = tr.balanced(kept)
            for j in pooled_batches(len(x), batch, gen):
                j = j.to(device)
                j = j[kept[j]]
                yield x[j], tr.y[j], w[j] / w[j].mean(), zt[j], epoch

        options = ctx.cfg["methods"].get(method.name, {})
        penalty = method.penalty(options, learners) if method.penalty is not None else None

        def loss(net: nn.Module, b: tuple[Tensor, Tensor, Tensor | None, Tensor, int]) -> Tensor:
            x, y, w, z, epoch = b
            value = bce_loss(net, x, y, w)
            if penalty is None:
                return value
            return value + penalty(net, x, y, torch.ones_like(y) if w is None else w, z, int(epoch), True)

        if penalty is not None:
            zvt = torch.from_numpy(zv.astype(np.float32) / sigma).to(device) if zv is not None else torch.zeros(len(va), device=device)
            names = data.seed_names("valid_subset", ctx.model, ctx.repeat)
            sub = valid_subset(va.y, kv, torch_generator(ctx.seed, *names).initial_seed())

        def valid(net: nn.Module) -> float:
            if data.balanced_batches:
                value = bce_loss(net, xv[kv], va.y[kv])
            else:
                value = bce_loss(net, xv[kv], va.y[kv], wv[kv] / wv[kv].mean())
            if penalty is not None:
                ws = torch.ones_like(va.y[sub]) if data.balanced_batches else wv[sub] / wv[sub].mean()
                value = value + penalty(net, xv[sub], va.y[sub], ws, zvt[sub], 10**9, False)
            return float(value)

        return Objective(batches, loss, valid)
