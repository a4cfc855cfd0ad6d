"""Statistics of a coverage study (issue 17): coverage with exact bounds, pulls, the FAIR-Universe score.

Pure numpy/scipy. The inputs are arrays over pseudo-experiments (toys); :func:`coverage_entry`
turns one set of toys (one method, one kind of toy, one truth) into the entry of ``coverage.json``.
An interval covers when ``lo <= mu_true <= hi`` (both edges included, as in the challenge's scoring).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta

#: the challenge's target coverage of a "68.27%" interval (``one_sigma`` in its scoring program)
ONE_SIGMA = 0.6827
#: the challenge's offset of the mean width inside the logarithm (``eps`` in its scoring program)
FAIR_UNIVERSE_EPS = 1e-3
#: the kinds of toys of issue 17 item 2
KINDS = ("model", "truth")


def clopper_pearson(k: int, n: int, cl: float = ONE_SIGMA) -> tuple[float, float]:
    """Exact (Clopper-Pearson) central interval of a binomial proportion ``k / n`` at level ``cl``.

    ``(beta.ppf(a/2, k, n-k+1), beta.ppf(1-a/2, k+1, n-k))`` with ``a = 1 - cl``; the lower edge
    is 0 at ``k = 0`` and the upper edge 1 at ``k = n``.
    """
    k, n = operator.index(k), operator.index(n)
    if n <= 0:
        raise ValueError(f"clopper_pearson: n = {n}, needs at least one trial")
    if not 0 <= k <= n:
        raise ValueError(f"clopper_pearson: k = {k} outside [0, n = {n}]")
    if not 0.0 < cl < 1.0:
        raise ValueError(f"clopper_pearson: confidence level {cl} outside (0, 1)")
    tail = 0.5 * (1.0 - cl)
    lo = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return lo, hi


def fair_universe_coverage_penalty(coverage: float, n_tries: int, one_sigma: float = ONE_SIGMA) -> float:
    """The challenge's coverage function ``f(c)``: 1 within 2 sigma68 of ``one_sigma``, a power law outside.

    ``sigma68 = sqrt((1 - one_sigma) one_sigma N) / N``; below the band ``1 + |(c - (one_sigma -
    2 sigma68)) / sigma68|**4``, above it ``1 + |(c - (one_sigma + 2 sigma68)) / sigma68|**3``.
    Source: FAIR-Universe/HEP-Challenge, ``scoring_program/score.py``, ``Scoring.Quantiles_Score``
    (inner ``f``), documented in ``pages/evaluation.md`` ("Scoring").
    """
    n_tries = operator.index(n_tries)
    if n_tries <= 0:
        raise ValueError(f"fair_universe_coverage_penalty: n_tries = {n_tries}, needs at least one toy")
    sigma68 = math.sqrt((1.0 - one_sigma) * one_sigma * n_tries) / n_tries
    low, high = one_sigma - 2.0 * sigma68, one_sigma + 2.0 * sigma68
    if coverage < low:
        return 1.0 + abs((coverage - low) / sigma68) ** 4
    if coverage > high:
        return 1.0 + abs((coverage - high) / sigma68) ** 3
    return 1.0


def fair_universe_score(
    lo: ArrayLike,
    hi: ArrayLike,
    mu_true: ArrayLike,
    eps: float = FAIR_UNIVERSE_EPS,
    one_sigma: float = ONE_SIGMA,
) -> float:
    """FAIR-Universe HiggsML Uncertainty Challenge score of a set of 68.27% intervals ``[lo, hi]``.

    ``s = -ln((w + eps) f(c))`` with ``w`` the mean of ``|hi - lo|``, ``c`` the fraction of toys
    with ``lo <= mu_true <= hi`` and ``f`` :func:`fair_universe_coverage_penalty` with ``N`` the
    number of toys; higher is better. Source: FAIR-Universe/HEP-Challenge,
    ``scoring_program/score.py``, ``Scoring.Quantiles_Score`` (``eps=1e-3``, ``one_sigma=0.6827``),
    documented in ``pages/evaluation.md`` ("Scoring").
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(f"fair_universe_score: lo and hi must be 1-d of one length, got {lo.shape} and {hi.shape}")
    if lo.size == 0:
        raise ValueError("fair_universe_score: no intervals")
    mu = _per_toy(mu_true, lo.size, "mu_true")
    width = float(np.mean(np.abs(hi - lo)))
    coverage = float(np.mean((mu >= lo) & (mu <= hi)))
    return float(-np.log((width + eps) * fair_universe_coverage_penalty(coverage, lo.size, one_sigma)))


def coverage_entry(
    method: str,
    kind: str,
    truth: Mapping[str, float] | str,
    mu_true: ArrayLike,
    mu_hat: ArrayLike,
    lo68: ArrayLike,
    hi68: ArrayLike,
    lo95: ArrayLike,
    hi95: ArrayLike,
    sigma: ArrayLike,
    failed: ArrayLike,
) -> dict[str, Any]:
    """The ``coverage.json`` entry of one method and kind of toys (issue 17 item 3), JSON-ready.

    A failed toy (``failed[i]`` true; its other values are ignored and may be NaN) counts as not
    covering in both coverages and is left out of the pulls ``(mu_hat - mu_true) / sigma``, the
    bias, the median width of ``[lo68, hi68]`` and the score (:func:`fair_universe_score` of the
    68% intervals). Coverage bounds: :func:`clopper_pearson` at 68.27%. Statistics without enough
    non-failed toys (none; fewer than two for the pull width) are ``None``.
    """
    if kind not in KINDS:
        raise ValueError(f"coverage_entry: kind {kind!r} not in {KINDS}")
    if not (truth == "prior" if isinstance(truth, str) else isinstance(truth, Mapping)):
        raise ValueError(f"coverage_entry: truth must be a mapping of true values or 'prior', got {truth!r}")
    failed = np.asarray(failed)
    if failed.dtype != bool or failed.ndim != 1:
        raise ValueError(f"coverage_entry: failed must be a 1-d boolean array, got dtype {failed.dtype}, "
                         f"shape {failed.shape}")
    n = failed.size
    if n == 0:
        raise ValueError("coverage_entry: no toys")
    arrays = {"mu_hat": mu_hat, "lo68": lo68, "hi68": hi68, "lo95": lo95, "hi95": hi95, "sigma": sigma}
    arrays = {name: np.asarray(value, dtype=float) for name, value in arrays.items()}
    wrong = {name: a.shape for name, a in arrays.items() if a.shape != (n,)}
    if wrong:
        raise ValueError(f"coverage_entry: {n} toys in failed, but shapes {wrong}")
    arrays["mu_true"] = _per_toy(mu_true, n, "mu_true")
    ok = ~failed
    for name, a in arrays.items():
        _check(~np.isfinite(a) & ok, f"non-finite {name}")
    _check((arrays["sigma"] <= 0) & ok, "sigma <= 0")
    for cl in ("68", "95"):
        _check((arrays[f"lo{cl}"] > arrays[f"hi{cl}"]) & ok, f"lo{cl} > hi{cl}")

    mu = arrays["mu_true"]
    entry: dict[str, Any] = {
        "method": str(method), "kind": kind,
        "truth": truth if isinstance(truth, str) else {str(k): _plain(v) for k, v in truth.items()},
        "n_toys": int(n), "n_failed": int(failed.sum()),
    }
    for cl in ("68", "95"):
        covered = ok & (arrays[f"lo{cl}"] <= mu) & (mu <= arrays[f"hi{cl}"])
        k = int(covered.sum())
        entry[f"coverage_{cl}"] = k / n
        entry[f"coverage_{cl}_bounds"] = list(clopper_pearson(k, n))

    n_ok = int(ok.sum())
    pull = (arrays["mu_hat"][ok] - mu[ok]) / arrays["sigma"][ok]
    entry["pull_mean"] = float(np.mean(pull)) if n_ok else None
    entry["pull_width"] = float(np.std(pull, ddof=1)) if n_ok >= 2 else None
    entry["bias"] = float(np.mean(arrays["mu_hat"][ok] - mu[ok])) if n_ok else None
    entry["median_width"] = float(np.median(arrays["hi68"][ok] - arrays["lo68"][ok])) if n_ok else None
    entry["score"] = fair_universe_score(arrays["lo68"][ok], arrays["hi68"][ok], mu[ok]) if n_ok else None
    return entry


def _per_toy(value: ArrayLike, n: int, name: str) -> np.ndarray:
    """``value`` as a float array of ``n`` toys (a scalar is repeated)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name}: shape {a.shape}, expected a scalar or ({n},)")
    return a


def _check(bad: np.ndarray, what: str) -> None:
    """Raise naming the first offending (non-failed) toys where ``bad``."""
    if bad.any():
        idx = np.flatnonzero(bad)
        more = f" and {idx.size - 5} more" if idx.size > 5 else ""
        raise ValueError(f"coverage_entry: {what} for non-failed toys {idx[:5].tolist()}{more}")


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value (JSON-ready); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value
