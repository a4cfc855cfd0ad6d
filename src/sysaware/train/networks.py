"""Networks used as summary statistics: standardised inputs, an MLP, logits out."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..io import temporary_path

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class Standardize(nn.Module):
    """Fixed affine input scaling (x - mean) / std, stored with the model."""

    def __init__(self, mean: Tensor, std: Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", torch.where(std > 0, std, torch.ones_like(std)).clone().float())

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return (x - self.mean) / self.std


def make_mlp(
    n_inputs: int,
    n_outputs: int,
    hidden: Sequence[int] = (100, 100),
    activation: str = "relu",
    mean: Tensor | None = None,
    std: Tensor | None = None,
) -> nn.Sequential:
    """MLP with standardised inputs; ``n_outputs`` logits (1 for BCE, n_bins for INFERNO)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} not in {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = [
        Standardize(
            torch.zeros(n_inputs) if mean is None else mean,
            torch.ones(n_inputs) if std is None else std,
        )
    ]
    width = n_inputs
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the first CUDA GPU when torch sees one, else the CPU; ``cpu``/``cuda`` as asked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device is 'cuda' but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"training.device {name!r} not in ['auto', 'cpu', 'cuda']")
    return torch.device(name)


def save_model(net: nn.Sequential, path: str, meta: dict) -> None:
    """Save weights (on the CPU) and the architecture description atomically (tmp file + rename)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    with temporary_path(path) as tmp:
        torch.save({"state_dict": state, "meta": meta}, tmp)


def load_model(path: str) -> tuple[nn.Sequential, dict]:
    """Load a model saved by :func:`save_model` with ``weights_only=True`` (no pickled code)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = blob["meta"]
    net = make_mlp(meta["n_inputs"], meta["n_outputs"], meta["hidden"], meta["activation"])
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return net, meta


class AppendInput(nn.Module):
    """Appends a constant column to the inputs: a parameterised network f(x, z) with z held fixed."""

    def __init__(self, value: float):
        super().__init__()
        self.value = float(value)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return torch.cat([x, torch.full((x.shape[0], 1), self.value, dtype=x.dtype, device=x.device)], dim=1)


def as_summary(net: nn.Sequential, meta: dict, z: float = 0.0) -> nn.Sequential:
    """The trained model as a summary of the event features: a network that takes the nuisance z as
    an input (``meta["z_input"]``) is evaluated at ``z``; any other is returned as it is."""
    if not meta.get("z_input"):
        return net
    return nn.Sequential(AppendInput(z), *net).eval()


def load_summary(path: str, z: float = 0.0) -> tuple[nn.Sequential, dict]:
    """:func:`load_model`, then :func:`as_summary` at ``z``."""
    net, meta = load_model(path)
    return as_summary(net, meta, z), meta
