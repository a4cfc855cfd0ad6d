"""Differentiable ("soft") weighted histograms used as summary statistics.

INFERNO (de Castro & Dorigo 2018, arXiv:1806.04743) trains a network whose
output is turned into a histogram; the inverse Fisher information of a Poisson
likelihood built on that histogram is the loss.  For the loss to be
differentiable, the hard bin assignment is replaced by a smooth one:

* :func:`softmax_histogram` -- a network with one output per bin; each event
  contributes ``w_i * softmax(logits_i / temperature)``.  As the temperature goes
  to zero this becomes the hard histogram of :func:`hard_bin_index`.
* :func:`kernel_histogram` -- a network with a single output ``x`` and fixed bin
  edges; the indicator of each bin is replaced by a smooth kernel of width
  ``bandwidth``.  As the bandwidth goes to zero this becomes an ordinary
  histogram of ``x`` with those edges.

All functions keep the dtype and device of their main tensor argument and are
differentiable with respect to it (and to ``weights``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "KERNELS",
    "hard_bin_index",
    "kernel_histogram",
    "softmax_histogram",
]

#: Kernel names accepted by :func:`kernel_histogram`.
KERNELS: tuple[str, ...] = ("sigmoid", "gaussian")


def _check_positive(value: float, name: str) -> float:
    """Return ``value`` as a float, or raise ValueError unless it is finite and > 0."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor):
        raise ValueError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.dim() != 2:
        raise ValueError(
            f"logits must have shape (n_events, n_bins), got shape {tuple(logits.shape)}"
        )
    if logits.shape[1] < 1:
        raise ValueError(f"logits must have at least one bin, got shape {tuple(logits.shape)}")


def _prepare_weights(weights: Tensor | None, n_events: int, like: Tensor) -> Tensor:
    """Return weights as a 1-D tensor of length ``n_events`` with ``like``'s dtype/device."""
    if weights is None:
        return torch.ones(n_events, dtype=like.dtype, device=like.device)
    weights = torch.as_tensor(weights)
    if weights.dim() != 1 or weights.shape[0] != n_events:
        raise ValueError(
            f"weights must have shape ({n_events},) to match the number of events, "
            f"got shape {tuple(weights.shape)}"
        )
    return weights.to(dtype=like.dtype, device=like.device)


def softmax_histogram(
    logits: Tensor,
    weights: Tensor | None = None,
    temperature: float = 0.1,
) -> Tensor:
    """Soft weighted histogram of a softmax-output network.

    Parameters
    ----------
    logits:
        Network outputs, shape ``(n_events, n_bins)``, floating point.
    weights:
        Per-event weights, shape ``(n_events,)``; ones if omitted.  Cast to the
        dtype/device of ``logits``.
    temperature:
        Softmax temperature (> 0).  As it goes to 0 the result tends to the hard
        histogram of :func:`hard_bin_index` (events whose largest logits tie are
        split evenly between the tied bins).

    Returns
    -------
    Tensor of shape ``(n_bins,)`` with ``sum_i w_i * softmax(logits_i / temperature)``.
    Its sum equals the sum of the weights at any temperature.
    """
    _check_logits(logits)
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got dtype {logits.dtype}")
    t = _check_positive(temperature, "temperature")
    w = _prepare_weights(weights, logits.shape[0], logits)
    probs = torch.softmax(logits / t, dim=1)
    return w @ probs


def kernel_histogram(
    x: Tensor,
    edges: Tensor | Sequence[float],
    weights: Tensor | None = None,
    bandwidth: float = 0.01,
    kernel: str = "sigmoid",
) -> Tensor:
    """Soft weighted histogram of a single-output network with fixed bin edges.

    Bin ``j`` = ``[lo_j, hi_j)`` gets ``sum_i w_i * K_j(x_i)`` with

    * ``kernel="sigmoid"``:  ``K_j(x) = sigmoid((x - lo_j)/bw) - sigmoid((x - hi_j)/bw)``
    * ``kernel="gaussian"``: ``K_j(x) = Phi((hi_j - x)/bw) - Phi((lo_j - x)/bw)``
      (``Phi`` the standard normal CDF, i.e. the bin indicator smeared by a
      Gaussian of width ``bw``).

    Parameters
    ----------
    x:
        Network output, shape ``(n_events,)`` or ``(n_events, 1)``, floating point.
    edges:
        Bin edges, strictly increasing, at least two.  Converted to the
        dtype/device of ``x`` (a tensor with ``requires_grad`` keeps its graph).
        The outermost edges may be infinite to make open-ended bins.
    weights:
        Per-event weights, shape ``(n_events,)``; ones if omitted.
    bandwidth:
        Kernel width ``bw`` (> 0), in units of ``x``.  As it goes to 0 the result
        tends to the ordinary histogram of ``x`` with these edges.
    kernel:
        ``"sigmoid"`` or ``"gaussian"``.

    Returns
    -------
    Tensor of shape ``(n_bins,)`` with the dtype and device of ``x``.  The kernels
    of adjacent bins telescope, so the total is ``sum_i w_i * (F(x_i - e_0) -
    F(x_i - e_n))``, i.e. the weight sum for events well inside the range.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 1:
        raise ValueError(f"x must have shape (n_events,) or (n_events, 1), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be floating point, got dtype {x.dtype}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    bw = _check_positive(bandwidth, "bandwidth")

    e = torch.as_tensor(edges).to(dtype=x.dtype, device=x.device)
    if e.dim() != 1 or e.shape[0] < 2:
        raise ValueError(f"edges must be 1-D with at least 2 entries, got shape {tuple(e.shape)}")
    if torch.isnan(e).any() or not bool((torch.diff(e.detach()) > 0).all()):
        raise ValueError("edges must be strictly increasing (and not NaN)")

    w = _prepare_weights(weights, x.shape[0], x)
    lo = e[:-1].unsqueeze(0)  # (1, n_bins)
    hi = e[1:].unsqueeze(0)
    xc = x.unsqueeze(1)  # (n_events, 1)
    if kernel == "sigmoid":
        k = torch.sigmoid((xc - lo) / bw) - torch.sigmoid((xc - hi) / bw)
    else:  # gaussian
        k = torch.special.ndtr((hi - xc) / bw) - torch.special.ndtr((lo - xc) / bw)
    return w @ k


def hard_bin_index(logits: Tensor) -> Tensor:
    """Hard bin assignment of a softmax-output network: ``argmax`` over bins.

    ``logits`` has shape ``(n_events, n_bins)``; returns an int64 tensor of shape
    ``(n_events,)``.  Ties go to the lowest bin index.  This is what the fit-time
    (non-differentiable) histogram of a :func:`softmax_histogram` network uses.
    """
    _check_logits(logits)
    return torch.argmax(logits, dim=1)
