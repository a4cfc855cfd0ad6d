"""The statistics of the coverage study (sysaware.stats.coverage) against exact calculations.

* Clopper-Pearson: closed forms at k = 0 and k = n, the defining binomial tail probabilities, a
  published value, and its exact (conservative) coverage.
* The FAIR-Universe score: hand-computed examples of the challenge's formula.
* ``coverage_entry``: Gaussian toys (pulls of mean 0, width 1), failed toys, bad input, and the
  coverage of a one-bin counting experiment with a Gaussian-constrained background compared with
  its exact frequentist coverage (summed over every count, the auxiliary measurement integrated
  exactly over the interval of its values where the interval covers).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import special, stats

from sysaware.stats.coverage import (
    clopper_pearson,
    coverage_entry,
    fair_universe_coverage_penalty,
    fair_universe_score,
)

ENTRY_KEYS = {"method", "kind", "truth", "n_toys", "n_failed", "coverage_68", "coverage_68_bounds",
              "coverage_95", "coverage_95_bounds", "pull_mean", "pull_width", "bias", "median_width", "score"}
#: the content of a normal distribution within 1 and 2 sigma
P1, P2 = stats.norm.cdf(1) - stats.norm.cdf(-1), stats.norm.cdf(2) - stats.norm.cdf(-2)


# ---------------------------------------------------------------- Clopper-Pearson


@pytest.mark.parametrize("cl", [0.6827, 0.95])
@pytest.mark.parametrize("n", [1, 10, 137])
def test_clopper_pearson_closed_forms_at_the_ends(n, cl):
    """k = 0: [0, 1 - (a/2)^(1/n)]; k = n: [(a/2)^(1/n), 1] with a = 1 - cl."""
    tail = (1 - cl) / 2
    assert clopper_pearson(0, n, cl) == pytest.approx((0.0, 1 - tail ** (1 / n)), rel=1e-12)
    assert clopper_pearson(n, n, cl) == pytest.approx((tail ** (1 / n), 1.0), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(5, 10), (1, 7), (37, 50), (2730, 4000)])
@pytest.mark.parametrize("cl", [0.6827, 0.9545])
def test_clopper_pearson_tail_probabilities(k, n, cl):
    """The edges are where the binomial tails beyond k hold (1 - cl) / 2: P(X >= k | lo) = P(X <= k | hi)."""
    lo, hi = clopper_pearson(k, n, cl)
    assert 0 < lo < k / n < hi < 1
    assert stats.binom.sf(k - 1, n, lo) == pytest.approx((1 - cl) / 2, rel=1e-9)
    assert stats.binom.cdf(k, n, hi) == pytest.approx((1 - cl) / 2, rel=1e-9)


def test_clopper_pearson_published_value():
    """R's binom.test(5, 10): 95 percent confidence interval 0.1870860 0.8129140."""
    assert clopper_pearson(5, 10, 0.95) == pytest.approx((0.1870860, 0.8129140), abs=5e-8)


@pytest.mark.parametrize("n", [10, 57])
def test_clopper_pearson_exact_coverage_is_at_least_nominal(n):
    """Summed over every outcome k, the interval covers p with probability >= cl, for every p."""
    cl = 0.6827
    edges = np.array([clopper_pearson(k, n, cl) for k in range(n + 1)])
    ks = np.arange(n + 1)
    for p in np.linspace(0.005, 0.995, 199):
        covers = (edges[:, 0] <= p) & (p <= edges[:, 1])
        assert stats.binom.pmf(ks, n, p)[covers].sum() >= cl - 1e-12, p


def test_clopper_pearson_in_binomial_simulations():
    """One large simulation: its 3-sigma bounds hold p; many small ones: the 68% bounds hold p >= 68% of the time."""
    rng = np.random.default_rng(20240617)
    p = P1
    k = int(np.sum(rng.random(4000) < p))
    lo, hi = clopper_pearson(k, 4000, 0.9973)
    assert lo <= p <= hi
    ks = rng.binomial(50, 0.3, size=3000)
    held = np.mean([lo <= 0.3 <= hi for lo, hi in (clopper_pearson(int(k), 50) for k in ks)])
    assert held >= 0.6827 - 3 * math.sqrt(0.6827 * 0.3173 / ks.size)


@pytest.mark.parametrize(("k", "n", "cl"), [(0, 0, 0.68), (-1, 10, 0.68), (11, 10, 0.68), (3, 10, 1.0), (3, 10, 0.0)])
def test_clopper_pearson_refuses_bad_input(k, n, cl):
    with pytest.raises(ValueError):
        clopper_pearson(k, n, cl)


# ---------------------------------------------------------------- FAIR-Universe score

#: sigma68 of 100 toys, by hand: sqrt(0.3173 * 0.6827 * 100) / 100
SIGMA68_100 = math.sqrt(0.3173 * 0.6827 * 100) / 100


def _toys(n_cover: int, widths: np.ndarray, mu: float = 1.0):
    """100 intervals of the given widths, the first ``n_cover`` centred on mu, the others beside it."""
    centre = np.where(np.arange(widths.size) < n_cover, mu, mu + 10.0)
    return centre - widths / 2, centre + widths / 2


def test_fair_universe_penalty_by_hand():
    """f = 1 in [0.6827 - 2 s, 0.6827 + 2 s], 1 + (d/s)^4 below and 1 + (d/s)^3 above, s = sigma68."""
    assert SIGMA68_100 == pytest.approx(0.0465425, abs=1e-7)
    low, high = 0.6827 - 2 * SIGMA68_100, 0.6827 + 2 * SIGMA68_100
    for x in (low, 0.6827, high, 0.70):
        assert fair_universe_coverage_penalty(x, 100) == 1.0
    assert fair_universe_coverage_penalty(0.5, 100) == pytest.approx(1 + ((low - 0.5) / SIGMA68_100) ** 4, rel=1e-12)
    assert fair_universe_coverage_penalty(0.9, 100) == pytest.approx(1 + ((0.9 - high) / SIGMA68_100) ** 3, rel=1e-12)
    # by hand: (0.589615 - 0.5) / 0.0465425 = 1.92544, 1 + 1.92544^4 = 14.7443
    assert fair_universe_coverage_penalty(0.5, 100) == pytest.approx(14.7443, abs=1e-3)
    # by hand: (0.9 - 0.775785) / 0.0465425 = 2.66885, 1 + 2.66885^3 = 20.0097
    assert fair_universe_coverage_penalty(0.9, 100) == pytest.approx(20.0097, abs=1e-3)


def test_fair_universe_score_by_hand():
    """s = -ln((w + 1e-3) f(c)) on 100 toys: in the band, under-covering, over-covering."""
    widths = np.where(np.arange(100) % 2 == 0, 0.2, 0.4)  # mean 0.3
    lo, hi = _toys(70, widths)
    assert fair_universe_score(lo, hi, 1.0) == pytest.approx(-math.log(0.301), rel=1e-12)
    assert fair_universe_score(lo, hi, 1.0) == pytest.approx(1.20065, abs=1e-5)
    lo, hi = _toys(50, np.full(100, 0.5))
    assert fair_universe_score(lo, hi, 1.0) == pytest.approx(-math.log(0.501 * 14.7443), abs=1e-4)
    assert fair_universe_score(lo, hi, 1.0) == pytest.approx(-1.99971, abs=1e-4)
    lo, hi = _toys(90, np.full(100, 0.2))
    assert fair_universe_score(lo, hi, np.ones(100)) == pytest.approx(-1.39176, abs=1e-4)
    # the width is |hi - lo| (an interval given upside down counts its size, and never covers)
    assert fair_universe_score(hi[:10], lo[:10], 1.0) == pytest.approx(-math.log((0.2 + 1e-3) * (1 + (
        (0.6827 - 2 * math.sqrt(0.3173 * 0.6827 / 10)) / math.sqrt(0.3173 * 0.6827 / 10)) ** 4)), rel=1e-12)


def test_fair_universe_score_refuses_bad_input():
    with pytest.raises(ValueError):
        fair_universe_score([], [], 1.0)
    with pytest.raises(ValueError):
        fair_universe_score([0.0, 1.0], [1.0], 1.0)
    with pytest.raises(ValueError):
        fair_universe_score([0.0, 1.0], [1.0, 2.0], [1.0, 1.0, 1.0])


# ---------------------------------------------------------------- coverage_entry


def _gaussian_toys(rng: np.random.Generator, n: int, mu: float = 1.3):
    """mu_hat ~ N(mu, sigma_i), sigma_i spread over [0.5, 2], intervals mu_hat +- sigma_i and +- 2 sigma_i."""
    sigma = rng.uniform(0.5, 2.0, n)
    mu_hat = rng.normal(mu, sigma)
    return {"mu_true": mu, "mu_hat": mu_hat, "lo68": mu_hat - sigma, "hi68": mu_hat + sigma,
            "lo95": mu_hat - 2 * sigma, "hi95": mu_hat + 2 * sigma, "sigma": sigma, "failed": np.zeros(n, bool)}


def _within(value: float, exact: float, bounds: list[float], widen: float = 4.0) -> bool:
    """``exact`` lies within ``value``'s Clopper-Pearson 68% bounds widened by ``widen``.

    4 sigma, not 3: a test makes up to four such comparisons, and at 3 sigma each one fails by
    chance 0.27% of the time (the 95% coverage of the few-count toys with seed 17 is 2.9 sigma off).
    """
    lo, hi = bounds
    return value - widen * (value - lo) <= exact <= value + widen * (hi - value)


def test_gaussian_toys_pulls_and_coverage():
    n = 20000
    toys = _gaussian_toys(np.random.default_rng(11), n)
    e = coverage_entry("bce", "model", {"mu": 1.3}, **toys)
    assert set(e) == ENTRY_KEYS and e["n_toys"] == n and e["n_failed"] == 0
    assert abs(e["pull_mean"]) < 4 / math.sqrt(n)
    assert abs(e["pull_width"] - 1) < 4 / math.sqrt(2 * (n - 1))
    assert abs(e["bias"]) < 4 * math.sqrt(np.mean(toys["sigma"] ** 2) / n)
    assert _within(e["coverage_68"], P1, e["coverage_68_bounds"])
    assert _within(e["coverage_95"], P2, e["coverage_95_bounds"])
    assert e["coverage_68_bounds"][0] < e["coverage_68"] < e["coverage_68_bounds"][1]
    assert e["median_width"] == pytest.approx(2 * np.median(toys["sigma"]), rel=1e-12)
    # intervals of exact coverage: f = 1, so the score is -ln(mean width + 1e-3)
    assert e["score"] == pytest.approx(-math.log(2 * np.mean(toys["sigma"]) + 1e-3), rel=1e-12)
    # a biased, too narrow method: the pulls see both
    shifted = dict(toys, mu_hat=toys["mu_hat"] + 0.5 * toys["sigma"], sigma=toys["sigma"] / 2)
    e = coverage_entry("bce", "model", {"mu": 1.3}, **shifted)
    assert e["pull_mean"] == pytest.approx(1.0, abs=8 / math.sqrt(n))
    assert e["pull_width"] == pytest.approx(2.0, abs=8 / math.sqrt(2 * n))


def test_entry_is_json_ready():
    toys = _gaussian_toys(np.random.default_rng(3), 50)
    truth = {"mu": np.float64(1.3), "jes": np.float32(1.0)}
    e = coverage_entry("inferno", "truth", truth, **toys)
    assert json.loads(json.dumps(e)) == e
    assert e["truth"] == {"mu": 1.3, "jes": 1.0} and type(e["truth"]["jes"]) is float
    assert type(e["n_toys"]) is int and type(e["n_failed"]) is int
    for key in ENTRY_KEYS - {"method", "kind", "truth", "n_toys", "n_failed"}:
        values = e[key] if isinstance(e[key], list) else [e[key]]
        assert all(type(v) is float for v in values), key
    assert coverage_entry("inferno", "truth", "prior", **toys)["truth"] == "prior"


def test_failed_toys_count_as_not_covering():
    """Every interval covers, but 7 of 50 toys failed: coverage 43/50, pulls, bias, width and score of the 43."""
    rng = np.random.default_rng(5)
    toys = _gaussian_toys(rng, 50)
    mu_hat = toys["mu_hat"]
    toys.update(lo68=mu_hat - 100, hi68=mu_hat + 100, lo95=mu_hat - 200, hi95=mu_hat + 200)
    failed = np.zeros(50, bool)
    failed[rng.choice(50, 7, replace=False)] = True
    # the failed toys keep their covering intervals: only the flag makes them miss; their fit values are NaN
    marked = dict(toys, failed=failed, mu_hat=np.where(failed, np.nan, mu_hat),
                  sigma=np.where(failed, np.nan, toys["sigma"]))
    e = coverage_entry("bce", "model", {"mu": 1.3}, **marked)
    assert e["n_toys"] == 50 and e["n_failed"] == 7
    assert e["coverage_68"] == e["coverage_95"] == 43 / 50
    assert e["coverage_68_bounds"] == e["coverage_95_bounds"] == list(clopper_pearson(43, 50))
    ok = {name: v[~failed] for name, v in toys.items() if name not in ("mu_true", "failed")}
    pull = (ok["mu_hat"] - 1.3) / ok["sigma"]
    assert e["pull_mean"] == pytest.approx(np.mean(pull), rel=1e-12)
    assert e["pull_width"] == pytest.approx(math.sqrt(np.sum((pull - pull.mean()) ** 2) / 42), rel=1e-12)
    assert e["bias"] == pytest.approx(np.mean(ok["mu_hat"]) - 1.3, rel=1e-12)
    assert e["median_width"] == pytest.approx(200.0, rel=1e-12)
    assert e["score"] == fair_universe_score(ok["lo68"], ok["hi68"], 1.3)
    # whatever a failed toy holds (NaN, an upside-down interval) is ignored
    broken = dict(marked, lo68=np.where(failed, 5.0, toys["lo68"]), hi68=np.where(failed, -5.0, toys["hi68"]),
                  lo95=np.where(failed, np.nan, toys["lo95"]), hi95=np.where(failed, np.inf, toys["hi95"]))
    assert coverage_entry("bce", "model", {"mu": 1.3}, **broken) == e
    # every toy failed: nothing covers, nothing to pull
    e = coverage_entry("bce", "model", "prior", **dict(broken, failed=np.ones(50, bool)))
    assert e["coverage_68"] == e["coverage_95"] == 0.0 and e["n_failed"] == 50
    assert e["pull_mean"] is e["pull_width"] is e["bias"] is e["median_width"] is e["score"] is None


def test_entry_refuses_bad_input():
    toys = _gaussian_toys(np.random.default_rng(2), 20)

    def entry(**change):
        return coverage_entry("bce", change.pop("kind", "model"), change.pop("truth", "prior"), **dict(toys, **change))

    entry()  # as given: fine
    with pytest.raises(ValueError, match="shapes"):
        entry(hi95=toys["hi95"][:-1])
    with pytest.raises(ValueError, match="mu_true"):
        entry(mu_true=np.ones(19))
    with pytest.raises(ValueError, match=r"lo68 > hi68 for non-failed toys \[4\]"):
        entry(lo68=np.where(np.arange(20) == 4, toys["hi68"] + 1, toys["lo68"]))
    with pytest.raises(ValueError, match="lo95 > hi95"):
        entry(lo95=toys["hi95"] + 1)
    with pytest.raises(ValueError, match="sigma <= 0"):
        entry(sigma=-toys["sigma"])
    with pytest.raises(ValueError, match="non-finite mu_hat"):
        entry(mu_hat=np.where(np.arange(20) == 0, np.nan, toys["mu_hat"]))
    with pytest.raises(ValueError, match="boolean"):
        entry(failed=np.zeros(20, int))
    with pytest.raises(ValueError, match="kind"):
        entry(kind="asimov")
    with pytest.raises(ValueError, match="truth"):
        entry(truth="nominal")
    with pytest.raises(ValueError, match="no toys"):
        coverage_entry("bce", "model", "prior", 1.0, *([[]] * 6), failed=np.zeros(0, bool))


# ---------------------------------------------------------------- one-bin counting experiment
# n ~ Pois(mu s + b), a ~ N(b, sigma_b); the profile-likelihood interval of mu is {q(mu) <= level},
# q(mu) = 2 [NLL(mu, b_hat(mu)) - NLL(mu_hat, b_hat)], with b free (only mu s + b > 0 is needed).


def profile_q(mu, n, a, s: float, sigma_b: float) -> np.ndarray:
    """q(mu) of the counting experiment, b profiled in closed form (the positive root of a quadratic)."""
    mu, n, a = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (mu, n, a)))
    v = sigma_b**2
    # dNLL/db = 0 with nu = mu s + b: nu^2 + c nu - n v = 0
    c = v - a - mu * s
    root = np.sqrt(c * c + 4 * n * v)
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = np.where(c > 0, 2 * n * v / (c + root), 0.5 * (root - c))
    b = nu - mu * s
    nll = nu - special.xlogy(n, nu) + (a - b) ** 2 / (2 * v)
    # the global minimum: nu = n (b = a, mu = (n - a) / s)
    return 2 * (nll - (n - special.xlogy(n, n)))


def _roots(f, inside: np.ndarray, step: np.ndarray, sign: int, iterations: int = 100) -> np.ndarray:
    """Vectorised bisection for f = 0 from ``inside`` (f < 0) towards ``sign``; f convex, growing outwards."""
    step = step.copy()
    while np.any(grow := f(inside + sign * step) <= 0):
        step = np.where(grow, 2 * step, step)
    lo, hi = inside, inside + sign * step
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = f(mid) <= 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def profile_interval(n, a, s: float, sigma_b: float, level: float):
    """Edges of {q(mu) <= level} for each (n, a)."""
    n, a = np.asarray(n, dtype=float), np.asarray(a, dtype=float)
    mu_hat = (n - a) / s
    step = np.sqrt(n + sigma_b**2) / s + 1e-3
    edges = [_roots(lambda m: profile_q(m, n, a, s, sigma_b) - level, mu_hat, step, sign) for sign in (-1, 1)]
    return edges[0], edges[1]


def exact_coverage(mu: float, s: float, b: float, sigma_b: float, level: float) -> tuple[float, float]:
    """P(q(mu) <= level | mu, b), summed over every count n and integrated over a exactly.

    For a given n, q(mu) is convex in a (a Moreau envelope of a convex function, less a constant),
    zero at a = n - mu s: the interval covers for a in [a_lo(n), a_hi(n)], of probability
    Phi((a_hi - b) / sigma_b) - Phi((a_lo - b) / sigma_b). Returns (coverage, Poisson mass summed).
    """
    nu = mu * s + b
    ns = np.arange(stats.poisson.ppf(1e-14, nu), stats.poisson.isf(1e-14, nu) + 1)
    a0 = ns - mu * s
    step = np.full_like(ns, sigma_b)
    a_lo, a_hi = (_roots(lambda a: profile_q(mu, ns, a, s, sigma_b) - level, a0, step, sign) for sign in (-1, 1))
    weight = stats.poisson.pmf(ns, nu)
    inside = stats.norm.cdf(a_hi, b, sigma_b) - stats.norm.cdf(a_lo, b, sigma_b)
    return float(weight @ inside), float(weight.sum())


#: (mu, s, b, sigma_b): few counts (n = 0 in a fifth of the toys, coverage far from nominal), many counts
COUNTING = [(1.0, 1.0, 0.5, 0.1), (1.0, 20.0, 50.0, 5.0)]


@pytest.mark.parametrize(("mu", "s", "b", "sigma_b"), COUNTING)
def test_exact_coverage_against_direct_simulation(mu, s, b, sigma_b):
    """The exact calculation against 200,000 toys counted directly (q(mu_true) <= level), 4 sigma."""
    rng = np.random.default_rng(1701)
    n_toys = 200_000
    n, a = rng.poisson(mu * s + b, n_toys), rng.normal(b, sigma_b, n_toys)
    for level in (1.0, 4.0):
        exact, mass = exact_coverage(mu, s, b, sigma_b, level)
        assert mass == pytest.approx(1.0, abs=1e-12)
        counted = np.mean(profile_q(mu, n, a, s, sigma_b) <= level)
        assert abs(counted - exact) < 4 * math.sqrt(exact * (1 - exact) / n_toys), (level, counted, exact)


@pytest.mark.parametrize(("mu", "s", "b", "sigma_b"), COUNTING)
def test_counting_experiment_coverage_against_exact(mu, s, b, sigma_b):
    """4000 seeded toys fitted by the same interval function: coverage_entry agrees with the exact coverage."""
    rng = np.random.default_rng(17)
    n_toys = 4000
    n, a = rng.poisson(mu * s + b, n_toys), rng.normal(b, sigma_b, n_toys)
    lo68, hi68 = profile_interval(n, a, s, sigma_b, 1.0)
    lo95, hi95 = profile_interval(n, a, s, sigma_b, 4.0)
    for lo, hi, level in ((lo68, hi68, 1.0), (lo95, hi95, 4.0)):
        assert np.all(lo < (n - a) / s) and np.all((n - a) / s < hi)
        np.testing.assert_allclose(profile_q(lo, n, a, s, sigma_b), level, atol=1e-8)
        np.testing.assert_allclose(profile_q(hi, n, a, s, sigma_b), level, atol=1e-8)
    mu_hat, sigma = (n - a) / s, np.sqrt(n + sigma_b**2) / s  # the MLE and its Hessian uncertainty
    e = coverage_entry("counting", "model", {"mu": mu, "b": b}, mu, mu_hat, lo68, hi68, lo95, hi95, sigma,
                       np.zeros(n_toys, bool))
    exact68, _ = exact_coverage(mu, s, b, sigma_b, 1.0)
    exact95, _ = exact_coverage(mu, s, b, sigma_b, 4.0)
    assert _within(e["coverage_68"], exact68, e["coverage_68_bounds"]), (e["coverage_68"], exact68)
    assert _within(e["coverage_95"], exact95, e["coverage_95_bounds"]), (e["coverage_95"], exact95)
    if s * mu + b < 5:
        # few counts: the exact coverage is far from nominal, and the toys see it
        assert not _within(e["coverage_68"], P1, e["coverage_68_bounds"])
    assert e["median_width"] == pytest.approx(float(np.median(hi68 - lo68)), rel=1e-12)
    assert abs(e["bias"]) < 4 * math.sqrt((s * mu + b + sigma_b**2) / n_toys) / s
