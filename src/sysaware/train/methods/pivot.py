"""``pivot``: learning to pivot (Louppe, Kagan, Cranmer, arXiv:1611.01046).

Cross-entropy minus lambda times the negative log-likelihood of an adversary that predicts z
(in units of its sigma) from the classifier output and the class label
(:func:`sysaware.train.adversary.adversary_nll`); the adversary takes ``adversary_steps``
steps per classifier step, after ``pretrain_epochs`` of plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Method


def penalty(options: Mapping[str, Any], learners: dict[str, Any]):
    """The adversarial term; the adversary and its optimiser join ``learners`` (for the checkpoint)."""
    import torch
    from torch import nn

    from ..adversary import adversary_nll

    lam = float(options["lam"])
    width = int(options["adversary_width"])
    adv = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))
    opt = torch.optim.Adam(adv.parameters(), lr=float(options["adversary_lr"]))
    steps, pretrain = int(options["adversary_steps"]), int(options["pretrain_epochs"])
    learners.update(adversary=adv, adversary_optimizer=opt)

    def term(net, x, y, w, z, epoch, training):
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

    return term


METHOD = Method(
    name="pivot", order=3, requires=("nuisance",), z="random", penalty=penalty,
    doc="cross-entropy minus lambda times the NLL of an adversary predicting z from (f, class)",
)
