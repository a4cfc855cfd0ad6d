"""The analytic classifier-output toy against numerical integration and sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.integrate import quad

from sysaware.toys import classifier_output as co
from sysaware.toys.figures import classifier_output_toy


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0, 8.0])
def test_densities_and_efficiencies_against_quadrature(alpha):
    assert quad(co.signal_density, 0, 1)[0] == pytest.approx(1.0, rel=1e-12)
    assert quad(lambda x: co.background_density(x, alpha), 0, 1)[0] == pytest.approx(1.0, rel=1e-12)
    for t in (0.0, 0.2, 0.65, 0.99):
        assert co.signal_efficiency(t) == pytest.approx(quad(co.signal_density, t, 1)[0], rel=1e-10)
        assert co.background_efficiency(t, alpha) == pytest.approx(
            quad(lambda x: co.background_density(x, alpha), t, 1)[0], rel=1e-10)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0, 8.0])
def test_auc_against_quadrature_and_sampling(alpha):
    numeric = quad(lambda x: co.signal_density(x) * (1.0 - co.background_efficiency(x, alpha)), 0, 1)[0]
    assert co.roc_auc(alpha) == pytest.approx(numeric, rel=1e-10)
    # P(x_s > x_b) by sampling both densities with inverse CDFs
    rng = np.random.default_rng(1)
    u, v = rng.uniform(size=(2, 400_000))
    xs = np.log1p(u * (np.e - 1.0))
    xb = -np.log1p(-v * (1.0 - np.exp(-alpha))) / alpha
    assert co.roc_auc(alpha) == pytest.approx(np.mean(xs > xb), abs=3e-3)


def test_ams_limits():
    # s << b: AMS -> s / sqrt(b); the regularisation adds to b
    assert co.ams(10.0, 1e6, b_reg=0.0) == pytest.approx(10.0 / 1e3, rel=1e-4)
    assert co.ams(10.0, 1e6 - 10.0) == pytest.approx(10.0 / 1e3, rel=1e-4)
    # the Asimov formula itself
    s, b = 30.0, 20.0
    assert co.ams(s, b, b_reg=0.0) == pytest.approx(np.sqrt(2 * ((s + b) * np.log(1 + s / b) - s)))
    with pytest.raises(ValueError, match="alpha"):
        co.background_efficiency(0.5, 0.0)


def test_figure_and_numbers(tmp_path):
    numbers = classifier_output_toy([1.0, 4.0, 8.0], tmp_path / "toy.png")
    assert (tmp_path / "toy.png").stat().st_size > 20_000
    rows = numbers["alphas"]
    assert [r["auc"] for r in rows] == sorted(r["auc"] for r in rows)  # more alpha, better separation
    for r in rows:  # the best threshold really maximises the AMS (checked on a finer grid)
        fine = np.linspace(0, 0.999, 20_000)
        assert r["best_ams"] == pytest.approx(co.ams_curve(fine, r["alpha"]).max(), rel=2e-3)
    json.dumps(numbers)


def test_pivot_classifier_output_becomes_independent_of_z():
    from sysaware.toys.pivot import PivotSettings, ks_distance, outputs_at, train_pivot

    ks = {}
    for lam in (0.0, 10.0):
        f = train_pivot(2, PivotSettings(lam=lam, steps=500, n_train=20_000, adversary_steps=10))
        ks[lam] = ks_distance(outputs_at(f, 2, -1.0, 5000), outputs_at(f, 2, 1.0, 5000))
    assert ks[0.0] > 0.4  # the plain classifier's signal output moves with z
    assert ks[10.0] < 0.5 * ks[0.0]  # the adversary removes most of that dependence


def test_ks_distance_against_scipy():
    from scipy.stats import ks_2samp

    from sysaware.toys.pivot import ks_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=700), rng.normal(0.3, 1.2, size=900)
    assert ks_distance(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def _dcor_sq_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook sample distance correlation (Szekely et al. 2007), plain loops."""
    n = len(x)

    def centred(v):
        d = [[abs(v[i] - v[j]) for j in range(n)] for i in range(n)]
        row = [sum(r) / n for r in d]
        grand = sum(row) / n
        return [[d[i][j] - row[i] - row[j] + grand for j in range(n)] for i in range(n)]

    a, b = centred(x), centred(y)

    def dcov(p, q):
        return sum(p[i][j] * q[i][j] for i in range(n) for j in range(n)) / n**2

    return dcov(a, b) / np.sqrt(dcov(a, a) * dcov(b, b))


def test_disco_penalty_equals_the_reference_distance_correlation():
    import torch

    from sysaware.train.disco import distance_correlation_sq

    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    y = x**2 + 0.3 * rng.normal(size=60)  # dependent, hardly correlated linearly
    got = float(distance_correlation_sq(torch.tensor(x), torch.tensor(y)))
    assert got == pytest.approx(_dcor_sq_reference(x, y), rel=1e-10)
    # integer weights = repeated events
    w = rng.integers(1, 4, size=60)
    weighted = float(distance_correlation_sq(torch.tensor(x), torch.tensor(y), torch.tensor(w, dtype=torch.float64)))
    assert weighted == pytest.approx(_dcor_sq_reference(np.repeat(x, w), np.repeat(y, w)), rel=1e-10)
    # limits, and a gradient for training
    assert float(distance_correlation_sq(torch.tensor(x), torch.tensor(3 * x + 1))) == pytest.approx(1.0)
    xt = torch.tensor(rng.normal(size=400), requires_grad=True)
    independent = distance_correlation_sq(xt, torch.tensor(rng.normal(size=400)))
    assert float(independent) < 0.02
    independent.backward()
    assert torch.isfinite(xt.grad).all()
