"""Tests of the INFERNO 3-feature mixture generator, densities and background transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from sysaware.benchmark.mixture import (
    SIGNAL_MEAN_CODE,
    SIGNAL_MEAN_TEXT,
    MixtureParams,
    generate,
    log_density_background,
    log_density_signal,
    sample_background,
    sample_signal,
    shift_background,
)

N = 200_000
NSE = 5.0  # tolerance in standard errors


def _expected_signal(mean: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([mean[0], mean[1], 0.5]), np.array([1.0, 1.0, 0.25])


def _expected_background(r: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([2.0 + r, 0.0, 1.0 / lam]), np.array([5.0, 9.0, 1.0 / lam**2])


def _assert_moments(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> None:
    n = x.shape[0]
    m = x.mean(axis=0)
    c = x - m
    v = (c**2).mean(axis=0)
    m4 = (c**4).mean(axis=0)
    se_m = np.sqrt(v / n)
    se_v = np.sqrt((m4 - v**2) / n)
    assert np.all(np.abs(m - mean) < NSE * se_m), (m, mean, se_m)
    assert np.all(np.abs(v - var) < NSE * se_v), (v, var, se_v)


@pytest.mark.parametrize("mean", [SIGNAL_MEAN_CODE, SIGNAL_MEAN_TEXT])
def test_signal_moments(mean: tuple[float, float]) -> None:
    x = sample_signal(N, np.random.default_rng(1), mean)
    assert x.shape == (N, 3) and x.dtype == np.float64
    _assert_moments(x, *_expected_signal(mean))


@pytest.mark.parametrize("r, lam", [(0.0, 3.0), (0.7, 2.0), (-0.5, 4.5)])
def test_background_moments(r: float, lam: float) -> None:
    x = sample_background(N, np.random.default_rng(2), r, lam)
    assert x.shape == (N, 3) and x.dtype == np.float64
    assert np.all(x[:, 2] >= 0.0)
    _assert_moments(x, *_expected_background(r, lam))


def test_generate_classes_and_weights() -> None:
    p = MixtureParams(r=0.3, lam=2.5)
    d = generate(N // 4, N, seed=3, params=p)
    x, y, w = d["x"], d["y"], d["w"]
    assert x.shape == (N // 4 + N, 3) and y.shape == w.shape == (x.shape[0],)
    assert int(y.sum()) == N // 4
    assert w[y == 1].sum() == pytest.approx(p.s_expected)
    assert w[y == 0].sum() == pytest.approx(p.b_expected)
    assert 0 < y[:1000].mean() < 1  # shuffled, not blocked by class
    _assert_moments(x[y == 1], *_expected_signal(p.signal_mean))
    _assert_moments(x[y == 0], *_expected_background(p.r, p.lam))


def test_generate_is_reproducible() -> None:
    p = MixtureParams()
    a, b = generate(1000, 2000, seed=7, params=p), generate(1000, 2000, seed=7, params=p)
    c = generate(1000, 2000, seed=8, params=p)
    for k in ("x", "y", "w"):
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["x"], c["x"])
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(
        sample_background(10, r1, 0.2, 2.0), sample_background(10, r2, 0.2, 2.0)
    )


@pytest.mark.parametrize("r, lam", [(0.7, 2.0), (-0.5, 4.5)])
def test_shift_background_matches_direct_generation(r: float, lam: float) -> None:
    nominal = torch.from_numpy(sample_background(N, np.random.default_rng(11), 0.0, 3.0))
    shifted = shift_background(nominal, r, lam).numpy()
    _assert_moments(shifted, *_expected_background(r, lam))
    direct = sample_background(N, np.random.default_rng(12), r, lam)
    for j in range(3):  # two-sample KS test per feature
        assert stats.ks_2samp(shifted[:, j], direct[:, j]).pvalue > 1e-4
    np.testing.assert_array_equal(shifted[:, 1], nominal[:, 1].numpy())


def test_shift_background_is_differentiable() -> None:
    x = torch.from_numpy(sample_background(1000, np.random.default_rng(13)))
    r = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    lam = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    out = shift_background(x, r, lam)
    out[:, 0].sum().backward(retain_graph=True)
    assert r.grad is not None and float(r.grad) == pytest.approx(1000.0)
    out[:, 2].sum().backward()
    expected = float(-(x[:, 2] * 3.0 / 2.5**2).sum())
    assert lam.grad is not None and float(lam.grad) == pytest.approx(expected, rel=1e-12)
    # identity at the nominal point, float32 input keeps its dtype
    x32 = x.float()
    y32 = shift_background(x32, 0.0, 3.0)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32, x32)


@pytest.mark.parametrize("mean", [SIGNAL_MEAN_CODE, SIGNAL_MEAN_TEXT])
def test_log_densities_match_scipy(mean: tuple[float, float]) -> None:
    rng = np.random.default_rng(21)
    x = np.column_stack([rng.normal(0, 4, 500), rng.normal(0, 4, 500), rng.exponential(1.0, 500)])
    ls = (
        stats.norm.logpdf(x[:, 0], mean[0], 1.0)
        + stats.norm.logpdf(x[:, 1], mean[1], 1.0)
        + stats.expon.logpdf(x[:, 2], scale=0.5)
    )
    np.testing.assert_allclose(log_density_signal(x, mean), ls, rtol=1e-12, atol=1e-12)
    r, lam = 0.6, 2.2
    lb = stats.multivariate_normal.logpdf(
        x[:, :2], [2.0 + r, 0.0], np.diag([5.0, 9.0])
    ) + stats.expon.logpdf(x[:, 2], scale=1.0 / lam)
    np.testing.assert_allclose(log_density_background(x, r, lam), lb, rtol=1e-12, atol=1e-12)
    neg = np.array([[0.0, 0.0, -0.1]])
    assert log_density_signal(neg, mean)[0] == -np.inf
    assert log_density_background(neg)[0] == -np.inf


@pytest.mark.parametrize("r, lam", [(0.0, 3.0), (1.0, 1.5)])
def test_log_densities_integrate_to_one(r: float, lam: float) -> None:
    h = 0.2
    x0 = np.arange(-30.0, 35.0, h)
    x1 = np.arange(-40.0, 40.0, h)
    t, wt = np.polynomial.laguerre.laggauss(40)  # integral_0^inf g(t) dt = sum wt e^t g(t)
    g = np.stack(np.meshgrid(x0, x1, t, indexing="ij"), axis=-1)
    wt3 = (wt * np.exp(t)) * h * h
    for mean in (SIGNAL_MEAN_CODE, SIGNAL_MEAN_TEXT):
        assert (np.exp(log_density_signal(g, mean)) * wt3).sum() == pytest.approx(1.0, abs=1e-6)
    assert (np.exp(log_density_background(g, r, lam)) * wt3).sum() == pytest.approx(1.0, abs=1e-6)
