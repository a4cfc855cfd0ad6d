"""HistFactory interpolation codes in torch, written to match pyhf's definitions.

Multiplicative (``normsys``): factors f(alpha) with f(0) = 1, f(+1) = hi, f(-1) = lo.
Additive (``histosys``): per-bin deltas d(alpha) with d(+1) = up - nom, d(-1) = down - nom.
All functions broadcast ``alpha`` (a 0-d tensor) against the template arrays.
"""

from __future__ import annotations

import torch
from torch import Tensor

# pyhf's code4 coefficient matrix for alpha0 = 1 (pyhf/interpolators/code4.py):
# a = A_INV @ [hi - 1, lo - 1, ln(hi) hi, -ln(lo) lo, ln(hi)^2 hi, ln(lo)^2 lo]
_A_INV = (
    (15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16),
    (3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16),
    (-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8),
    (-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8),
    (3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16),
    (1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16),
)


def code4_coefficients(lo: Tensor, hi: Tensor) -> Tensor:
    """Coefficients a_1..a_6 of the code4 polynomial, shape (6, *lo.shape)."""
    llo, lhi = torch.log(lo), torch.log(hi)
    b = torch.stack([hi - 1, lo - 1, lhi * hi, -llo * lo, lhi**2 * hi, llo**2 * lo])
    a_inv = torch.tensor(_A_INV, dtype=b.dtype, device=b.device)
    return torch.einsum("rc,c...->r...", a_inv, b)


def normsys_factor(alpha: Tensor, lo: Tensor, hi: Tensor, code: str = "code4") -> Tensor:
    """Multiplicative factor of a normsys modifier at ``alpha``."""
    if code == "code1":
        return torch.where(alpha > 0, hi ** alpha, lo ** (-alpha))
    if code == "code4":
        coeffs = code4_coefficients(lo, hi)
        powers = torch.stack([alpha**k for k in range(1, 7)])
        poly = 1 + torch.einsum("r...,r->...", coeffs, powers)
        # exponents of 1 inside the polynomial region keep gradients finite there
        expo = torch.where(alpha.abs() >= 1, alpha.abs(), torch.ones_like(alpha))
        base = torch.where(alpha >= 1, hi, torch.where(alpha > -1, poly, lo))
        return base**expo
    raise ValueError(f"normsys interpolation code {code!r} not in code1, code4 (pyhf's normsys codes)")


def histosys_delta(
    alpha: Tensor, down: Tensor, nom: Tensor, up: Tensor, code: str = "code4p"
) -> Tensor:
    """Additive per-bin shift of a histosys modifier at ``alpha``."""
    d_up = up - nom
    d_dn = nom - down
    if code == "code0":
        return torch.where(alpha > 0, alpha * d_up, alpha * d_dn)
    if code == "code4p":
        s = 0.5 * (d_up + d_dn)
        a = 0.0625 * (d_up - d_dn)
        a2 = alpha * alpha
        inner = alpha * s + a2 * (a2 * (a2 * 3.0 - 10.0) + 15.0) * a
        return torch.where(alpha > 1, alpha * d_up, torch.where(alpha < -1, alpha * d_dn, inner))
    raise ValueError(f"histosys interpolation code {code!r} not in code0, code4p")
