"""The systematic-aware training methods on the HiggsML TES problem, through the common loop.

Every method trains an MLP with :func:`sysaware.train.loop.fit` (seeded, best epoch by its
validation loss).  z is the relative tau-energy-scale shift; where a method draws it, z is
uniform on ``higgsml.tes.train_range`` per event and epoch, and the events are shifted with the
recipe (:meth:`~sysaware.higgsml.dataset.TESData.inputs_at`, tau pT cut after the shift).

``bce``      cross-entropy on nominal events (z = 0), classes weighted to equal total weight.
``true_z``   the same at the true z of a pseudo-experiment: the reference optimum, one model per
             ``higgsml.tes.true_values`` entry (``true_z_<k>``).
``augment``  cross-entropy on events shifted by random z (data augmentation).
``aware``    parameterised classifier f(x, z) trained on events shifted by random z with z as an
             input (Ghosh, Nachman, Whiteson); evaluated with templates rebuilt at every z.
``pivot``    cross-entropy minus lambda times the NLL of an adversary that predicts z from
             (f, class label) (Louppe, Kagan, Cranmer); the adversary takes
             ``adversary_steps`` steps per classifier step, after ``pretrain_epochs`` of plain BCE.
``disco``    cross-entropy plus lambda times the squared distance correlation of f and z, per
             class (Kasieczka, Shih).
``inferno``  loss = var(mu), the POI entry of the inverse Hessian of the Asimov likelihood of
             :func:`~sysaware.higgsml.model.higgsml_spec` (the model of the final fit), filled with
             soft histograms of a batch of each sample at z = 0 and z = +-sigma (the same events
             shifted, so rate and shape changes are paired event by event).
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
from ..seeding import rng_for, torch_generator
from ..stats import Templates
from ..stats.torch_model import TorchModel
from ..summaries import softmax_histogram
from ..train.adversary import adversary_nll
from ..train.disco import distance_correlation_sq
from ..train.checkpoint import Stateful, training_checkpoint
from ..train.loop import History, TrainSettings, fit
from ..train.networks import make_mlp
from .dataset import TRAIN, VALID, TESData
from .model import TES, higgsml_spec
from .names import METHODS, model_names

log = logging.getLogger(__name__)
DISCO_VALID_EVENTS = 3000  # per class: the distance correlation is O(n^2) in memory


def parse_model_name(cfg: Mapping[str, Any], name: str) -> tuple[str, float | None]:
    """(method, true z of a ``true_z_<k>`` model, else None)."""
    if name.startswith("true_z_"):
        return "true_z", float(cfg["higgsml"]["tes"]["true_values"][int(name.rsplit("_", 1)[1])])
    if name not in METHODS or name == "true_z":
        raise ValueError(f"unknown HiggsML model {name!r}; expected one of {model_names(cfg)}")
    return name, None


class _Part:
    """One split as tensors: nominal inputs, labels, class-balanced weights."""

    def __init__(self, data: TESData, split: int, z: float = 0.0):
        self.data = data
        self.rows = data.rows(split)
        x, kept = data.inputs_at(self.rows, z)
        self.x = torch.from_numpy(x)
        self.y = torch.from_numpy(data.is_signal(self.rows).astype(np.float32))
        self.w = torch.from_numpy(data.weight[self.rows].astype(np.float32))
        self.kept = torch.from_numpy(kept)

    def balanced(self, kept: Tensor) -> Tensor:
        """Weights with each class summing to one over the kept events."""
        w = self.w * kept
        out = torch.zeros_like(w)
        for cls in (0.0, 1.0):
            m = self.y == cls
            out[m] = w[m] / w[m].sum().clamp_min(1e-30)
        return out

    def shifted(self, z: np.ndarray) -> tuple[Tensor, Tensor]:
        """Inputs and kept mask at one z per row."""
        x, kept = self.data.inputs_at(self.rows, z)
        return torch.from_numpy(x), torch.from_numpy(kept)


def _z_input(x: Tensor, z: np.ndarray | float) -> Tensor:
    zz = torch.as_tensor(np.broadcast_to(np.asarray(z, dtype=np.float32), (len(x),)).copy())
    return torch.cat([x, zz[:, None]], dim=1)


def _standardisation(x: Tensor, aware: bool, lo: float, hi: float) -> tuple[Tensor, Tensor]:
    mean, std = x.mean(0), x.std(0)
    if aware:  # z uniform on [lo, hi]
        mean = torch.cat([mean, torch.tensor([(lo + hi) / 2])])
        std = torch.cat([std, torch.tensor([(hi - lo) / 12**0.5])])
    return mean, std


def _epoch_batches(n: int, batch: int, gen: torch.Generator) -> Iterator[Tensor]:
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        yield perm[i : i + batch]


def train(
    cfg: Mapping[str, Any],
    name: str,
    data: TESData,
    progress: Callable[[int, float, float], None] | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[nn.Sequential, dict[str, Any], History]:
    """Train the model ``name`` (see :func:`model_names`) on the train split; returns (net, meta, history).

    ``checkpoint``: file of per-epoch checkpoints (see :mod:`sysaware.train.checkpoint`); the
    pivot's adversary and its optimiser are saved with the classifier.
    """
    method, true_z = parse_model_name(cfg, name)
    tcfg, tes = cfg["training"], cfg["higgsml"]["tes"]
    mcfg = cfg["methods"].get(method, {})
    seed = int(cfg["seed"])
    lo, hi = (float(v) for v in tes["train_range"])
    sigma = float(tes["sigma"])
    gen = torch_generator(seed, "higgsml_train", name)
    z_fixed = true_z if true_z is not None else 0.0
    tr, va = _Part(data, TRAIN, z_fixed), _Part(data, VALID, z_fixed)
    aware = method == "aware"
    n_out = int(tcfg["n_bins"]) if method == "inferno" else 1
    mean, std = _standardisation(tr.x, aware, lo, hi)
    net = make_mlp(tr.x.shape[1] + int(aware), n_out, tcfg["hidden"], tcfg["activation"], mean, std)
    batch = int(tcfg["batch_size"])
    settings = TrainSettings(epochs=int(tcfg["epochs"]), lr=float(tcfg["lr"]), optimizer=tcfg["optimizer"],
                             patience=int(tcfg["patience"]))

    def draw(part: _Part, *key: object) -> np.ndarray:
        return rng_for(seed, "higgsml_z", name, *key).uniform(lo, hi, size=len(part.rows))

    learners: dict[str, Stateful] = {}
    if method == "inferno":
        batches, loss_fn, valid = _inferno(cfg, data, tr, va, sigma, batch, gen)
    else:
        # validation inputs: fixed, at z = 0 (true z) or at one draw of random z
        random_z = method in ("augment", "aware", "pivot", "disco")
        zv = draw(va, "valid") if random_z else None
        xv, kv = va.shifted(zv) if random_z else (va.x, va.kept)
        if aware:
            xv = _z_input(xv, zv)
        wv = va.balanced(kv)

        def batches(epoch: int) -> Iterator[tuple[Tensor, ...]]:
            if random_z:
                z = draw(tr, "epoch", epoch)
                x, kept = tr.shifted(z)
                if aware:
                    x = _z_input(x, z)
                zt = torch.from_numpy(z.astype(np.float32) / sigma)
            else:
                x, kept, zt = tr.x, tr.kept, torch.zeros(len(tr.rows))
            w = tr.balanced(kept)
            for j in _epoch_batches(len(x), batch, gen):
                j = j[kept[j]]
                yield x[j], tr.y[j], w[j] / w[j].mean(), zt[j], torch.tensor(epoch)

        penalty = _penalty(method, mcfg, learners)

        def loss_fn(net: nn.Module, b: tuple[Tensor, ...]) -> Tensor:
            x, y, w, z, epoch = b
            loss = bce_loss(net, x, y, w)
            return loss if penalty is None else loss + penalty(net, x, y, w, z, int(epoch), True)

        zvt = torch.from_numpy(zv.astype(np.float32) / sigma) if zv is not None else None
        sub = _valid_subset(va.y, kv, torch_generator(seed, "higgsml_valid_subset", name).initial_seed())

        def valid(net: nn.Module) -> float:
            keep = kv
            loss = bce_loss(net, xv[keep], va.y[keep], wv[keep] / wv[keep].mean())
            if penalty is not None:
                loss = loss + penalty(net, xv[sub], va.y[sub], wv[sub] / wv[sub].mean(), zvt[sub], 10**9, False)
            return float(loss)

    ckpt = training_checkpoint(checkpoint, cfg, ("higgsml", name), gen, **learners)
    hist = fit(net, batches, loss_fn, valid, settings, progress, ckpt)
    meta = {
        "n_inputs": tr.x.shape[1] + int(aware), "n_outputs": n_out, "hidden": list(tcfg["hidden"]),
        "activation": tcfg["activation"], "method": method, "model": name, "z_input": aware,
        "true_z": true_z, "features": list(data.features), "best_epoch": hist.best_epoch,
        "best_valid_loss": hist.best_valid,
    }
    return net, meta, hist


def _valid_subset(y: Tensor, keep: Tensor, seed: int) -> Tensor:
    """Indices of at most DISCO_VALID_EVENTS kept validation events per class (drawn once, seeded)."""
    out = []
    for cls in (0.0, 1.0):
        idx = torch.nonzero((y == cls) & keep).flatten()
        if len(idx) > DISCO_VALID_EVENTS:
            g = torch.Generator()
            g.manual_seed(seed)
            idx = idx[torch.randperm(len(idx), generator=g)[:DISCO_VALID_EVENTS]]
        out.append(idx)
    return torch.cat(out)


def _penalty(method: str, mcfg: Mapping[str, Any], learners: dict[str, Stateful]):
    """The extra loss term of ``pivot`` / ``disco`` (None for the plain cross-entropy methods).

    Parts that learn alongside the classifier (the pivot's adversary and its optimiser) are
    added to ``learners``, for the checkpoint."""
    lam = float(mcfg.get("lam", 0.0))
    if method == "disco":

        def disco(net, x, y, w, z, epoch, training):
            p = torch.sigmoid(net(x)[:, 0])
            terms = [distance_correlation_sq(p[y == c].double(), z[y == c].double(), w[y == c].double())
                     for c in (0.0, 1.0) if int((y == c).sum()) > 2]
            return lam * sum(terms).float()

        return disco
    if method == "pivot":
        width = int(mcfg["adversary_width"])
        adv = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))
        opt = torch.optim.Adam(adv.parameters(), lr=float(mcfg["adversary_lr"]))
        steps, pretrain = int(mcfg["adversary_steps"]), int(mcfg["pretrain_epochs"])
        learners.update(adversary=adv, adversary_optimizer=opt)

        def pivot(net, x, y, w, z, epoch, training):
            p = torch.sigmoid(net(x)[:, :1])
            inputs = torch.cat([p, y[:, None]], dim=1)
            if not training:
                return -lam * adversary_nll(adv, inputs, z)
            lam_now = 0.0 if epoch < pretrain else lam
            for _ in range(steps):  # the adversary follows the classifier
                opt.zero_grad()
                adversary_nll(adv, inputs.detach(), z).backward()
                opt.step()
            return -lam_now * adversary_nll(adv, inputs, z)

        return pivot
    return None


def _inferno(cfg, data: TESData, tr: _Part, va: _Part, sigma: float, batch: int, gen: torch.Generator):
    """Batches, loss and validation loss of INFERNO (see the module docstring)."""
    spec = higgsml_spec(cfg)
    tcfg = cfg["training"]
    temperature = float(tcfg["temperature"])
    model = TorchModel(spec, int(tcfg["n_bins"]))
    names = spec.sample_names

    def tensors(part: _Part) -> dict[str, Any]:
        up = part.shifted(np.full(len(part.rows), sigma))
        down = part.shifted(np.full(len(part.rows), -sigma))
        sample = torch.from_numpy(data.sample[part.rows])
        out = {}
        for k, name in enumerate(names):
            idx = torch.nonzero(sample == k).flatten()
            w0 = part.w[idx] * part.kept[idx]
            out[name] = {"idx": idx, "x": (part.x, up[0], down[0]),
                         "w": (w0, part.w[idx] * up[1][idx], part.w[idx] * down[1][idx]),
                         "yield": float(w0.sum())}
        return out

    trt, vat = tensors(tr), tensors(va)
    per_sample = max(batch // len(names), 2)

    def templates(net: nn.Module, parts: dict[str, Any], pick: Mapping[str, Tensor | None]) -> Templates[Tensor]:
        nominal, up, down = {}, {}, {}
        for name, p in parts.items():
            j = pick[name]
            idx = p["idx"] if j is None else p["idx"][j]
            ws = [w if j is None else w[j] for w in p["w"]]
            scale = p["yield"] / ws[0].sum().double().clamp_min(1e-300)
            hists = [softmax_histogram(net(x[idx]), w, temperature).double() * scale for x, w in zip(p["x"], ws)]
            nominal[name], up[name], down[name] = hists
        return Templates(nominal=nominal, sumw2={k: torch.zeros_like(v) for k, v in nominal.items()},
                         up={TES: up}, down={TES: down})

    def batches(_: int) -> Iterator[dict[str, Tensor]]:
        perms = {n: torch.randperm(len(p["idx"]), generator=gen) for n, p in trt.items()}
        n_steps = max(1, max(len(p["idx"]) for p in trt.values()) // per_sample)
        for k in range(n_steps):
            yield {n: perm[torch.arange(k * per_sample, (k + 1) * per_sample) % len(perm)] for n, perm in perms.items()}

    def loss_fn(net: nn.Module, pick: dict[str, Tensor]) -> Tensor:
        return model.poi_variance(templates(net, trt, pick))

    def valid(net: nn.Module) -> float:
        return float(model.poi_variance(templates(net, vat, {n: None for n in vat})))

    return batches, loss_fn, valid
