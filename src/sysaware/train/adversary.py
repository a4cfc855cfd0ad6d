"""The adversary of learning to pivot (Louppe, Kagan, Cranmer, arXiv:1611.01046).

A network r(inputs) predicts the nuisance z as a Gaussian with learned mean and width (the
one-component case of the paper's mixture density network); its negative log-likelihood is
what the adversary minimises and the classifier, weighted by lambda, maximises.
"""

from __future__ import annotations

from torch import Tensor, nn


def adversary_nll(adversary: nn.Module, inputs: Tensor, z: Tensor) -> Tensor:
    """Mean Gaussian negative log-likelihood of ``z`` given ``adversary(inputs)`` = (mean, log sigma).

    ``inputs`` has shape (n, k): the classifier output, and whatever else the adversary may see
    (the class label, to predict z per class).
    """
    out = adversary(inputs)
    mean, log_sigma = out[:, 0], out[:, 1].clamp(-5.0, 5.0)
    return (0.5 * ((z - mean) / log_sigma.exp()) ** 2 + log_sigma).mean()
