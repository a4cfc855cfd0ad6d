"""Tests of the analytic-likelihood benchmark row (Fisher information of the true mixture)."""

from __future__ import annotations

import numpy as np
import pytest

from sysaware.benchmark.analytic import (
    analytic_sqrt_var_s,
    analytic_table,
    fisher_information,
    sqrt_var_s,
)
from sysaware.benchmark.mixture import (
    SIGNAL_MEAN_CODE,
    SIGNAL_MEAN_TEXT,
    log_density_background,
    log_density_signal,
    sample_background,
    sample_signal,
)

# de Castro & Dorigo, arXiv:1806.04743, table row "Analytical likelihood" (bm0..bm4)
PAPER_ANALYTIC = [14.71, 15.52, 15.65, 15.62, 16.89]
S, B = 50.0, 1000.0


def test_analytic_row_matches_paper_for_signal_mean_00() -> None:
    ours = np.array(analytic_table(SIGNAL_MEAN_CODE))
    np.testing.assert_allclose(ours, PAPER_ANALYTIC, rtol=0.01)
    assert analytic_sqrt_var_s(0) == pytest.approx(ours[0])


def test_signal_mean_11_does_not_reproduce_paper() -> None:
    ours = np.array(analytic_table(SIGNAL_MEAN_TEXT))
    assert np.all(ours / PAPER_ANALYTIC - 1.0 > 0.05)


@pytest.mark.parametrize("mean", [SIGNAL_MEAN_CODE, SIGNAL_MEAN_TEXT])
def test_benchmark_ordering(mean: tuple[float, float]) -> None:
    t = analytic_table(mean)
    assert t[0] <= t[1] <= t[2]
    assert t[3] <= t[2]
    assert t[4] >= t[3]
    assert t[3] >= t[0]


def test_quadrature_converged_and_symmetric() -> None:
    ref = fisher_information(SIGNAL_MEAN_CODE)
    fine = fisher_information(SIGNAL_MEAN_CODE, h=0.125, n_u=192)
    np.testing.assert_allclose(ref, ref.T, rtol=1e-12)
    np.testing.assert_allclose(fine, ref, rtol=1e-6)
    assert np.all(np.linalg.eigvalsh(ref) > 0)


def test_constraint_limits() -> None:
    info = fisher_information(SIGNAL_MEAN_CODE)
    pinned = info + np.diag([0.0, 1e12, 1e12, 1e12])
    assert sqrt_var_s(pinned, 4) == pytest.approx(sqrt_var_s(info, 0), rel=1e-6)
    b_pinned = info + np.diag([0.0, 0.0, 0.0, 1e12])
    assert sqrt_var_s(b_pinned, 4) == pytest.approx(sqrt_var_s(info, 3), rel=1e-6)


def _mc_fisher(
    mean: tuple[float, float], n: int, seed: int, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified MC of I_jk = int d_j nu d_k nu / nu; derivatives by finite differences."""
    rng = np.random.default_rng(seed)
    ns = int(round(n * S / (S + B)))
    nb = n - ns
    x = np.concatenate([sample_signal(ns, rng, mean), sample_background(nb, rng)])
    fs = np.exp(log_density_signal(x, mean))

    def fb(r: float, lam: float) -> np.ndarray:
        return np.exp(log_density_background(x, r, lam))

    fb0 = fb(0.0, 3.0)
    nu = S * fs + B * fb0
    d_r = B * (fb(eps, 3.0) - fb(-eps, 3.0)) / (2 * eps)
    d_lam = B * (fb(0.0, 3.0 + eps) - fb(0.0, 3.0 - eps)) / (2 * eps)
    score = np.stack([fs, d_r, d_lam, fb0]) / nu
    terms = score[:, None, :] * score[None, :, :]  # integral of terms * nu over x
    est = S * terms[..., :ns].mean(-1) + B * terms[..., ns:].mean(-1)
    se = np.sqrt(S**2 * terms[..., :ns].var(-1) / ns + B**2 * terms[..., ns:].var(-1) / nb)
    return est, se


@pytest.mark.parametrize("mean", [SIGNAL_MEAN_CODE, SIGNAL_MEAN_TEXT])
def test_fisher_matches_monte_carlo(mean: tuple[float, float]) -> None:
    quad = fisher_information(mean)
    est, se = _mc_fisher(mean, 400_000, seed=2024)
    assert np.all(np.abs(est - quad) < 5 * se)
    for k in range(5):
        assert sqrt_var_s(est, k) == pytest.approx(sqrt_var_s(quad, k), rel=0.015)


def test_bm0_matches_toy_mle_spread() -> None:
    """Spread of the extended-likelihood MLE of s (r, lam, b fixed) over Poisson toys."""
    ntoy, mean = 3000, SIGNAL_MEAN_CODE
    rng = np.random.default_rng(99)
    ns, nb = rng.poisson(S, ntoy), rng.poisson(B, ntoy)
    xs = sample_signal(int(ns.sum()), rng, mean)
    x = np.concatenate([xs, sample_background(int(nb.sum()), rng)])
    toy = np.concatenate([np.repeat(np.arange(ntoy), ns), np.repeat(np.arange(ntoy), nb)])
    fs = np.exp(log_density_signal(x, mean))
    bfb = B * np.exp(log_density_background(x))
    s_min = np.full(ntoy, -np.inf)
    np.maximum.at(s_min, toy, -bfb / fs)  # keep nu > 0 on every event
    s_hat = np.full(ntoy, S)
    for _ in range(15):  # Newton on the score  sum f_s / nu - 1 = 0 (concave in s)
        ratio = fs / (s_hat[toy] * fs + bfb)
        score = np.bincount(toy, ratio, ntoy) - 1.0
        new = s_hat + score / np.bincount(toy, ratio**2, ntoy)
        s_hat = np.where(new <= s_min, 0.5 * (s_hat + s_min), new)
    assert np.abs(score).max() < 1e-8
    assert s_hat.mean() == pytest.approx(S, abs=3 * 15.0 / np.sqrt(ntoy))
    assert s_hat.std(ddof=1) == pytest.approx(analytic_sqrt_var_s(0, mean), rel=0.05)
