"""Train one model of any analysis with any method: the one place for device, seeds, network and checkpoints.

``train(cfg, data, model, repeat)`` looks the model's method up (:mod:`sysaware.train.methods`),
builds its network (standardised inputs, an MLP: one logit for a classifier, ``n_bins``
softmax outputs for a histogram summary), lets the method's family
(:mod:`sysaware.train.classifier`, :mod:`sysaware.train.histogram`) build its objective from
the analysis's data adaptor (:class:`~sysaware.train.data.TrainingData`) and runs the common
loop (:func:`sysaware.train.loop.fit`) with its per-epoch checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..seeding import torch_generator
from . import classifier, histogram
from .checkpoint import training_checkpoint
from .context import Context
from .data import TrainingData
from .loop import History, TrainSettings, fit
from .methods import parse_model_name
from .networks import make_mlp, resolve_device

FAMILIES = {"classifier": classifier.Setup, "histogram": histogram.Setup}


def settings(cfg: Mapping[str, Any]) -> TrainSettings:
    """The loop's settings from the ``training`` config block."""
    t = cfg["training"]
    return TrainSettings(epochs=int(t["epochs"]), lr=float(t["lr"]), optimizer=t["optimizer"], patience=int(t["patience"]))


def train(
    cfg: Mapping[str, Any],
    data: TrainingData,
    model: str,
    repeat: int = 0,
    progress: Callable[[int, float, float], None] | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[nn.Sequential, dict[str, Any], History]:
    """Train ``model`` (a method, or ``<method>_<variant>``) on ``data``; returns (network on the CPU,
    metadata, history).  ``checkpoint``: file of per-epoch checkpoints, resumed after a kill."""
    method, variant = parse_model_name(cfg, model, data.capabilities, data.variants)
    tcfg = cfg["training"]
    device = resolve_device(tcfg.get("device", "auto"))
    gen = torch_generator(int(cfg["seed"]), *data.seed_names("train", model, repeat))  # also seeds the initial weights
    ctx = Context(cfg=cfg, method=method, variant=variant, model=model, repeat=repeat, device=device, gen=gen)
    setup = FAMILIES[method.summary](ctx, data)
    net = make_mlp(setup.n_inputs, setup.n_outputs, tcfg["hidden"], tcfg["activation"], setup.mean, setup.std)
    net.to(device)
    learners: dict[str, Any] = {}
    objective = setup.objective(net, learners)
    ckpt = training_checkpoint(checkpoint, cfg, (data.tag, model, repeat), gen, **learners)
    hist = fit(net, objective.batches, objective.loss, objective.valid, settings(cfg), progress, ckpt)
    net.cpu()
    true_z = data.nuisance.true_values[int(variant)] if method.z == "true" else None
    meta = {
        "n_inputs": setup.n_inputs, "n_outputs": setup.n_outputs, "hidden": list(tcfg["hidden"]),
        "activation": tcfg["activation"], "method": method.name, "model": model, "variant": variant,
        "repeat": repeat, "z_input": method.z_input, "true_z": true_z, "features": list(data.features),
        "best_epoch": hist.best_epoch, "best_valid_loss": hist.best_valid, "device": str(device),
    }
    return net, meta, hist
