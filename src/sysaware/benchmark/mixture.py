"""The 3-feature synthetic mixture of INFERNO (de Castro & Dorigo, arXiv:1806.04743).

signal     : N((x0, x1) | signal_mean, diag(1, 1))  x  Exp(x2 | rate 2)
background : N((x0, x1) | (2 + r, 0), diag(5, 9))   x  Exp(x2 | rate lam)

with s = 50 signal and b = 1000 background expected events, nominal r = 0, lam = 3.

Signal mean: the paper's text says (1, 1); its plots and code use (0, 0). Only (0, 0)
reproduces the paper's "Analytical likelihood" row (see :mod:`sysaware.benchmark.analytic`),
so it is the default here; (1, 1) stays available through ``signal_mean``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "SIGNAL_MEAN_CODE",
    "SIGNAL_MEAN_TEXT",
    "MixtureParams",
    "sample_signal",
    "sample_background",
    "generate",
    "log_density_signal",
    "log_density_background",
    "shift_background",
]

SIGNAL_MEAN_CODE: tuple[float, float] = (0.0, 0.0)
"""Signal mean used by the paper's plots/code; reproduces its analytic row."""
SIGNAL_MEAN_TEXT: tuple[float, float] = (1.0, 1.0)
"""Signal mean quoted in the paper's text."""

SIGNAL_RATE = 2.0
BKG_MEAN_X0 = 2.0  # background x0 mean is BKG_MEAN_X0 + r
BKG_VAR = (5.0, 9.0)  # background variances of (x0, x1)
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class MixtureParams:
    """Parameters of the mixture (r, lam are the nuisance parameters)."""

    signal_mean: tuple[float, float] = SIGNAL_MEAN_CODE
    r: float = 0.0
    lam: float = 3.0
    s_expected: float = 50.0
    b_expected: float = 1000.0


def sample_signal(
    n: int, rng: np.random.Generator, signal_mean: tuple[float, float] = SIGNAL_MEAN_CODE
) -> np.ndarray:
    """Draw ``n`` signal events, float64 array of shape (n, 3)."""
    x = np.empty((n, 3), dtype=np.float64)
    x[:, 0] = rng.normal(signal_mean[0], 1.0, n)
    x[:, 1] = rng.normal(signal_mean[1], 1.0, n)
    x[:, 2] = rng.exponential(1.0 / SIGNAL_RATE, n)
    return x


def sample_background(
    n: int, rng: np.random.Generator, r: float = 0.0, lam: float = 3.0
) -> np.ndarray:
    """Draw ``n`` background events at (r, lam), float64 array of shape (n, 3)."""
    x = np.empty((n, 3), dtype=np.float64)
    x[:, 0] = rng.normal(BKG_MEAN_X0 + r, np.sqrt(BKG_VAR[0]), n)
    x[:, 1] = rng.normal(0.0, np.sqrt(BKG_VAR[1]), n)
    x[:, 2] = rng.exponential(1.0 / lam, n)
    return x


def generate(
    n_signal: int, n_background: int, seed: int, params: MixtureParams = MixtureParams()
) -> dict[str, np.ndarray]:
    """Seeded, shuffled training sample.

    Returns ``x`` (n, 3) float64, ``y`` (n,) float64 (1 signal, 0 background) and ``w``
    (n,) float64 weights normalising each class to ``s_expected`` / ``b_expected``.
    """
    rng = np.random.default_rng(seed)
    xs = sample_signal(n_signal, rng, params.signal_mean)
    xb = sample_background(n_background, rng, params.r, params.lam)
    x = np.concatenate([xs, xb])
    y = np.concatenate([np.ones(n_signal), np.zeros(n_background)])
    w = np.concatenate(
        [
            np.full(n_signal, params.s_expected / max(n_signal, 1)),
            np.full(n_background, params.b_expected / max(n_background, 1)),
        ]
    )
    perm = rng.permutation(len(y))
    return {"x": x[perm], "y": y[perm], "w": w[perm]}


def _log_normal(x: np.ndarray, mean: float, var: float) -> np.ndarray:
    return -0.5 * ((x - mean) ** 2 / var + np.log(var) + _LOG_2PI)


def _log_expon(x: np.ndarray, rate: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(x >= 0.0, np.log(rate) - rate * x, -np.inf)


def log_density_signal(
    x: np.ndarray, signal_mean: tuple[float, float] = SIGNAL_MEAN_CODE
) -> np.ndarray:
    """Exact signal log pdf of events ``x`` (..., 3)."""
    x = np.asarray(x, dtype=np.float64)
    return (
        _log_normal(x[..., 0], signal_mean[0], 1.0)
        + _log_normal(x[..., 1], signal_mean[1], 1.0)
        + _log_expon(x[..., 2], SIGNAL_RATE)
    )


def log_density_background(x: np.ndarray, r: float = 0.0, lam: float = 3.0) -> np.ndarray:
    """Exact background log pdf of events ``x`` (..., 3) at (r, lam)."""
    x = np.asarray(x, dtype=np.float64)
    return (
        _log_normal(x[..., 0], BKG_MEAN_X0 + r, BKG_VAR[0])
        + _log_normal(x[..., 1], 0.0, BKG_VAR[1])
        + _log_expon(x[..., 2], lam)
    )


def shift_background(
    x: torch.Tensor,
    r: float | torch.Tensor,
    lam: float | torch.Tensor,
    r0: float = 0.0,
    lam0: float = 3.0,
) -> torch.Tensor:
    """Move background events generated at (r0, lam0) to (r, lam), differentiably.

    x0 -> x0 + (r - r0) and x2 -> x2 * lam0 / lam; x1 is unchanged. This is exact in
    distribution, not an approximation: a location shift of N(2 + r0, 5) gives N(2 + r, 5),
    and if E ~ Exp(rate lam0) then E * lam0 / lam ~ Exp(rate lam) (exponential scaling).
    Gradients flow to ``r`` and ``lam`` when they are tensors (INFERNO's reparametrisation).
    """
    x0 = x[:, 0] + (r - r0)
    x2 = x[:, 2] * (lam0 / lam)
    return torch.stack([x0, x[:, 1], x2], dim=1)
