"""Tests for sysaware.summaries: soft histograms and their hard limits."""

from __future__ import annotations

import hist
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, ndtr

from sysaware.summaries import (
    hard_bin_index,
    kernel_histogram,
    softmax_histogram,
)

FAST = settings(max_examples=40, deadline=None)
KERNELS = ["sigmoid", "gaussian"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _weights(rng: np.random.Generator, n: int, signed: bool) -> np.ndarray:
    w = rng.uniform(0.1, 10.0, size=n)
    if signed:  # MC generators can produce negative weights
        w *= rng.choice([-1.0, 1.0], size=n, p=[0.2, 0.8])
    return w


def _separated_logits(rng: np.random.Generator, n: int, n_bins: int, gap: float) -> np.ndarray:
    """Random logits whose row maximum exceeds the runner-up by at least ``gap``."""
    logits = rng.normal(0.0, 2.0, size=(n, n_bins))
    winner = rng.integers(0, n_bins, size=n)
    rows = np.arange(n)
    logits[rows, winner] = logits.max(axis=1) + gap + rng.uniform(0.0, 1.0, size=n)
    return logits


def _random_edges(rng: np.random.Generator, n_bins: int) -> np.ndarray:
    """Strictly increasing edges with spacing >= 0.01."""
    widths = rng.uniform(0.01, 1.0, size=n_bins)
    return np.concatenate([[0.0], np.cumsum(widths)]) + rng.uniform(-2.0, 2.0)


def _points_away_from_edges(
    rng: np.random.Generator, edges: np.ndarray, n: int, margin: float
) -> np.ndarray:
    """Points inside random bins, plus some under/overflow, all >= ``margin`` from every edge."""
    n_bins = len(edges) - 1
    j = rng.integers(-1, n_bins + 1, size=n)  # -1: underflow, n_bins: overflow
    lo = np.where(j < 0, edges[0] - 1.0, edges[np.clip(j, 0, n_bins - 1)])
    hi = np.where(j >= n_bins, edges[-1] + 1.0, edges[np.clip(j + 1, 1, n_bins)])
    lo = np.where(j >= n_bins, edges[-1], lo)
    hi = np.where(j < 0, edges[0], hi)
    return rng.uniform(lo + margin, hi - margin)


def _hard_integer_counts(idx: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    h = hist.Hist(hist.axis.Integer(0, n_bins), storage=hist.storage.Weight())
    h.fill(idx, weight=w)
    return h.values()


def _hard_variable_counts(x: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    h.fill(x, weight=w)
    return h.values()


# ---------------------------------------------------------------------------
# hard limits
# ---------------------------------------------------------------------------


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 200),
    n_bins=st.integers(1, 12),
    signed=st.booleans(),
)
def test_softmax_low_temperature_equals_hard_counts(seed, n, n_bins, signed):
    rng = np.random.default_rng(seed)
    logits = _separated_logits(rng, n, n_bins, gap=0.05)  # exp(-0.05/1e-4) ~ 1e-217
    w = _weights(rng, n, signed)

    soft = softmax_histogram(torch.from_numpy(logits), torch.from_numpy(w), temperature=1e-4)
    idx = hard_bin_index(torch.from_numpy(logits)).numpy()
    hard = _hard_integer_counts(idx, w, n_bins)

    assert soft.dtype == torch.float64
    assert soft.shape == (n_bins,)
    np.testing.assert_allclose(soft.numpy(), hard, rtol=1e-6, atol=1e-9 * np.abs(w).sum())


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 200),
    n_bins=st.integers(1, 10),
    kernel=st.sampled_from(KERNELS),
    signed=st.booleans(),
)
def test_kernel_narrow_limit_equals_hard_counts(seed, n, n_bins, kernel, signed):
    rng = np.random.default_rng(seed)
    edges = _random_edges(rng, n_bins)
    x = _points_away_from_edges(rng, edges, n, margin=1e-3)
    w = _weights(rng, n, signed)

    soft = kernel_histogram(
        torch.from_numpy(x), torch.from_numpy(edges), torch.from_numpy(w),
        bandwidth=1e-6, kernel=kernel,
    )
    hard = _hard_variable_counts(x, w, edges)

    assert soft.dtype == torch.float64
    assert soft.shape == (n_bins,)
    np.testing.assert_allclose(soft.numpy(), hard, rtol=1e-6, atol=1e-9 * np.abs(w).sum())


def test_hard_bin_index_is_argmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 7))
    idx = hard_bin_index(torch.from_numpy(logits))
    assert idx.dtype == torch.int64
    np.testing.assert_array_equal(idx.numpy(), logits.argmax(axis=1))


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 100),
    n_bins=st.integers(1, 10),
    temperature=st.floats(1e-4, 1e3),
)
def test_softmax_total_is_weight_sum(seed, n, n_bins, temperature):
    rng = np.random.default_rng(seed)
    logits = torch.from_numpy(rng.normal(0.0, 3.0, size=(n, n_bins)))
    w = torch.from_numpy(_weights(rng, n, signed=True))
    soft = softmax_histogram(logits, w, temperature=temperature)
    assert soft.sum().item() == pytest.approx(w.sum().item(), rel=1e-10, abs=1e-10 * n)


def test_softmax_default_weights_count_events():
    logits = torch.randn(37, 5, dtype=torch.float64)
    assert softmax_histogram(logits, temperature=2.0).sum().item() == pytest.approx(37.0)


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 100),
    n_bins=st.integers(1, 10),
    bandwidth=st.floats(1e-6, 1e-2),
    kernel=st.sampled_from(KERNELS),
)
def test_kernel_total_is_weight_sum_inside_range(seed, n, n_bins, bandwidth, kernel):
    # edges on [0, 1] (inner ones arbitrary: the kernels telescope); points at
    # least 0.4 = 40 bandwidths from the outer edges, so the tails are < e^-40.
    rng = np.random.default_rng(seed)
    inner = np.sort(rng.uniform(0.0, 1.0, size=n_bins - 1))
    edges = np.unique(np.concatenate([[0.0], inner, [1.0]]))
    x = torch.from_numpy(rng.uniform(0.4, 0.6, size=n))
    w = torch.from_numpy(_weights(rng, n, signed=True))
    soft = kernel_histogram(x, edges.tolist(), w, bandwidth=bandwidth, kernel=kernel)
    assert soft.sum().item() == pytest.approx(w.sum().item(), rel=1e-10, abs=1e-10 * n)


# ---------------------------------------------------------------------------
# definitions, shapes, dtype
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matches_closed_form(kernel):
    rng = np.random.default_rng(2)
    edges = np.array([-1.0, -0.2, 0.3, 1.5])
    x = rng.uniform(-2.0, 2.5, size=40)
    w = rng.uniform(0.5, 2.0, size=40)
    bw = 0.3
    lo, hi = edges[:-1], edges[1:]
    xc = x[:, None]
    if kernel == "sigmoid":
        k = expit((xc - lo) / bw) - expit((xc - hi) / bw)
    else:
        k = ndtr((hi - xc) / bw) - ndtr((lo - xc) / bw)
    got = kernel_histogram(torch.from_numpy(x), torch.from_numpy(edges), torch.from_numpy(w),
                           bandwidth=bw, kernel=kernel)
    np.testing.assert_allclose(got.numpy(), w @ k, rtol=1e-12, atol=1e-12)


def test_softmax_matches_closed_form():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(30, 4))
    w = rng.uniform(0.5, 2.0, size=30)
    t = 0.7
    z = np.exp(logits / t - (logits / t).max(axis=1, keepdims=True))
    expected = w @ (z / z.sum(axis=1, keepdims=True))
    got = softmax_histogram(torch.from_numpy(logits), torch.from_numpy(w), temperature=t)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_column_input_and_dtype(kernel):
    x = torch.rand(20, dtype=torch.float32)
    w = torch.rand(20, dtype=torch.float64)  # cast to x's dtype
    flat = kernel_histogram(x, [0.0, 0.25, 0.5, 1.0], w, bandwidth=0.05, kernel=kernel)
    col = kernel_histogram(x[:, None], [0.0, 0.25, 0.5, 1.0], w, bandwidth=0.05, kernel=kernel)
    assert flat.dtype == torch.float32 and flat.device == x.device
    assert flat.shape == (3,)
    torch.testing.assert_close(flat, col)


def test_softmax_keeps_dtype():
    out = softmax_histogram(torch.randn(10, 3, dtype=torch.float32), torch.ones(10, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.shape == (3,)


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------


def test_softmax_gradient_flows():
    torch.manual_seed(0)
    logits = torch.randn(25, 4, dtype=torch.float64, requires_grad=True)
    w = torch.rand(25, dtype=torch.float64) + 0.5
    h = softmax_histogram(logits, w, temperature=0.5)
    (g,) = torch.autograd.grad(h[1], logits)
    assert torch.isfinite(g).all()
    assert g.abs().sum() > 0
    assert torch.autograd.gradcheck(
        lambda z: softmax_histogram(z, w, temperature=0.5), (logits,)
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_gradient_flows(kernel):
    torch.manual_seed(0)
    x = torch.rand(25, dtype=torch.float64, requires_grad=True)
    w = torch.rand(25, dtype=torch.float64) + 0.5
    edges = [0.0, 0.3, 0.6, 1.0]
    h = kernel_histogram(x, edges, w, bandwidth=0.1, kernel=kernel)
    (g,) = torch.autograd.grad(h[1], x)
    assert torch.isfinite(g).all()
    assert g.abs().sum() > 0
    assert torch.autograd.gradcheck(
        lambda z: kernel_histogram(z, edges, w, bandwidth=0.1, kernel=kernel), (x,)
    )


def test_gradient_wrt_weights():
    logits = torch.randn(10, 3, dtype=torch.float64)
    w = torch.ones(10, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(softmax_histogram(logits, w, temperature=1.0)[0], w)
    torch.testing.assert_close(g, torch.softmax(logits, dim=1)[:, 0])


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------

_L = torch.zeros(5, 3)
_X = torch.zeros(5)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: softmax_histogram(torch.zeros(5), temperature=1.0), "logits"),
        (lambda: softmax_histogram(torch.zeros(2, 3, 4)), "logits"),
        (lambda: softmax_histogram(torch.zeros(5, 0)), "logits"),
        (lambda: softmax_histogram(torch.zeros(5, 3, dtype=torch.int64)), "logits"),
        (lambda: softmax_histogram(_L, torch.ones(4)), "weights"),
        (lambda: softmax_histogram(_L, torch.ones(5, 1)), "weights"),
        (lambda: softmax_histogram(_L, temperature=0.0), "temperature"),
        (lambda: softmax_histogram(_L, temperature=-1.0), "temperature"),
        (lambda: softmax_histogram(_L, temperature=float("nan")), "temperature"),
        (lambda: kernel_histogram(torch.zeros(5, 2), [0.0, 1.0]), "x"),
        (lambda: kernel_histogram(torch.zeros(5, dtype=torch.int64), [0.0, 1.0]), "x"),
        (lambda: kernel_histogram(_X, [0.0]), "edges"),
        (lambda: kernel_histogram(_X, [0.0, 1.0, 1.0]), "edges"),
        (lambda: kernel_histogram(_X, [1.0, 0.0]), "edges"),
        (lambda: kernel_histogram(_X, [[0.0, 1.0]]), "edges"),
        (lambda: kernel_histogram(_X, [0.0, float("nan"), 1.0]), "edges"),
        (lambda: kernel_histogram(_X, [0.0, 1.0], torch.ones(6)), "weights"),
        (lambda: kernel_histogram(_X, [0.0, 1.0], bandwidth=0.0), "bandwidth"),
        (lambda: kernel_histogram(_X, [0.0, 1.0], bandwidth=-0.1), "bandwidth"),
        (lambda: kernel_histogram(_X, [0.0, 1.0], kernel="box"), "box"),
        (lambda: hard_bin_index(torch.zeros(5)), "logits"),
    ],
)
def test_bad_arguments_raise(call, name):
    with pytest.raises(ValueError, match=name):
        call()
