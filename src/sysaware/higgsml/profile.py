"""Binned profile likelihood with templates rebuilt on a grid of the TES nuisance z.

Model (Ghosh, Nachman, Whiteson 2021, uncertainty-aware classifiers): the histogram of each
sample is rebuilt at every point ``z_k`` of a grid of the relative tau-energy-scale shift ``z``
(a classifier ``f(x, z)`` is evaluated with templates ``f(x_z, z)``), instead of being
interpolated from +-1 sigma variations.  The expected count in bin ``b`` is

    lambda_b(mu, z, alpha) = sum_s  mu^[s in poi] * prod_j N_js(alpha_j) * Y_sb(z),

where ``Y_sb(z)`` is piecewise linear in ``z`` between grid nodes and extrapolated linearly from
the two end nodes outside the grid (pyhf histosys ``code0`` for a 3-point grid), and ``N_js`` is
pyhf's normsys ``code1``: ``hi**alpha`` for alpha >= 0, ``lo**(-alpha)`` for alpha < 0.  The
negative log-likelihood is ``-sum_b log Pois(n_b | lambda_b)`` (constants included) plus
``-log N(alpha_j | 0, 1)`` per normsys and ``-log N(z | 0, z_sigma)`` when z is constrained.

The z dependence has kinks at the grid nodes, so :func:`fit` minimises separately on every
z segment (where the model is smooth, with exact one-sided gradients) and keeps the best.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import digamma, gammaln, xlogy

from ..errors import SysawareError

log = logging.getLogger(__name__)
_ALPHA_BOUNDS = (-5.0, 5.0)
_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def _neg_log_normal(x: np.ndarray | float, sigma: float) -> np.ndarray | float:
    """``-scipy.stats.norm.logpdf(x, 0, sigma)``, written out (it is called in every fit step)."""
    return 0.5 * (np.asarray(x) / sigma) ** 2 + np.log(sigma) + _HALF_LOG_2PI


class ProfileFitError(SysawareError, RuntimeError):
    """A fit ended on a non-finite negative log-likelihood."""


@dataclass(frozen=True)
class GridTemplates:
    """Per-sample expected yields ``(n_z, n_bins)`` at each point of a strictly increasing z grid."""

    z: np.ndarray
    yields: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        z = np.asarray(self.z, dtype=float)
        if z.ndim != 1 or z.size < 2 or not np.all(np.isfinite(z)) or np.any(np.diff(z) <= 0):
            raise ValueError(f"z grid must be a finite, strictly increasing 1-d array of >= 2 points, got {z}")
        object.__setattr__(self, "z", z)
        ys, n_bins = {}, None
        for name, y in self.yields.items():
            y = np.asarray(y, dtype=float)
            if y.ndim != 2 or y.shape[0] != z.size or (n_bins is not None and y.shape[1] != n_bins):
                raise ValueError(f"sample {name!r}: yields shape {y.shape}, expected ({z.size}, n_bins)")
            if not np.all(np.isfinite(y)):
                raise ValueError(f"sample {name!r}: yields are not all finite")
            if np.any(y < 0):
                raise ValueError(f"sample {name!r}: negative yields")
            n_bins, ys[name] = y.shape[1], y
        if not ys:
            raise ValueError("no samples")
        object.__setattr__(self, "yields", ys)

    def segment(self, z: float) -> int:
        """Index i of the grid segment [z_i, z_i+1] used at z (end segments extrapolate)."""
        return int(np.clip(np.searchsorted(self.z, z, side="right") - 1, 0, self.z.size - 2))

    def _at(self, z: float, seg: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        z0, z1 = self.z[seg], self.z[seg + 1]
        slope = {k: (y[seg + 1] - y[seg]) / (z1 - z0) for k, y in self.yields.items()}
        return {k: y[seg] + (z - z0) * slope[k] for k, y in self.yields.items()}, slope

    def at(self, z: float) -> dict[str, np.ndarray]:
        """Per-sample ``(n_bins,)`` yields at z: piecewise linear, linearly extrapolated outside."""
        return self._at(float(z), self.segment(float(z)))[0]


@dataclass(frozen=True)
class ProfileModel:
    """Signal strength mu, TES nuisance z (grid templates) and normsys nuisances alpha_j."""

    templates: GridTemplates
    poi_samples: tuple[str, ...]
    norms: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    z_sigma: float | None = None
    z_bounds: tuple[float, float] | None = None
    mu_bounds: tuple[float, float] = (-5.0, 10.0)

    def __post_init__(self) -> None:
        names = set(self.templates.yields)
        for s in self.poi_samples:
            if s not in names:
                raise ValueError(f"poi sample {s!r} not among the templates {sorted(names)}")
        for n, fac in self.norms.items():
            for s, (lo, hi) in fac.items():
                if s not in names or not (lo > 0 and hi > 0):
                    raise ValueError(f"normsys {n!r}: bad sample {s!r} or non-positive factors ({lo}, {hi})")
        if self.z_bounds is None:
            object.__setattr__(self, "z_bounds", (float(self.templates.z[0]), float(self.templates.z[-1])))

    @property
    def parameter_names(self) -> list[str]:
        """``["mu", "z", *norms]``, the order of ``pars``."""
        return ["mu", "z", *self.norms]

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """Fit bounds of each parameter."""
        return [tuple(self.mu_bounds), tuple(self.z_bounds), *[_ALPHA_BOUNDS] * len(self.norms)]

    def _eval(self, pars: np.ndarray, seg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Expected counts and their Jacobian ``(n_pars, n_bins)``, z slopes from segment ``seg``."""
        mu, z, alphas = pars[0], pars[1], pars[2:]
        y, slope = self.templates._at(z, self.templates.segment(z) if seg is None else seg)
        lam, jac = 0.0, np.zeros((len(pars), next(iter(y.values())).size))
        for s in y:
            fac, dlog = 1.0, np.zeros(len(alphas))
            for j, n in enumerate(self.norms):
                lo, hi = self.norms[n].get(s, (1.0, 1.0))
                a = alphas[j]
                fac *= hi**a if a >= 0 else lo ** (-a)
                dlog[j] = np.log(hi) if a >= 0 else -np.log(lo)
            m = mu if s in self.poi_samples else 1.0
            lam = lam + m * fac * y[s]
            if s in self.poi_samples:
                jac[0] += fac * y[s]
            jac[1] += m * fac * slope[s]
            jac[2:] += np.outer(dlog, m * fac * y[s])
        return np.maximum(lam, 1e-10), jac * (lam > 1e-10)

    def expected(self, pars: np.ndarray) -> np.ndarray:
        """Expected counts per bin at ``pars = [mu, z, *alphas]`` (clamped below at 1e-10)."""
        return self._eval(np.asarray(pars, dtype=float))[0]

    def _data_at(self, data: np.ndarray, z: float, seg: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Observed counts at z and their z slope: ``data`` is ``(n_bins,)``, or ``(n_z, n_bins)`` on the grid.

        The second form is for a summary that takes z as an input, whose data histogram is made
        again at every hypothesised z; it is interpolated like the templates.
        """
        if data.ndim == 1:
            return data, None
        g = self.templates.z
        if data.shape[0] != g.size:
            raise ValueError(f"z-dependent data has {data.shape[0]} rows, the z grid {g.size} points")
        i = self.templates.segment(z) if seg is None else seg
        slope = (data[i + 1] - data[i]) / (g[i + 1] - g[i])
        return np.maximum(data[i] + (z - g[i]) * slope, 0.0), slope

    def _nll_grad(self, pars: np.ndarray, data: np.ndarray, seg: int | None = None) -> tuple[float, np.ndarray]:
        lam, jac = self._eval(pars, seg)
        data, dslope = self._data_at(data, pars[1], seg)
        nll = -np.sum(xlogy(data, lam) - lam - gammaln(data + 1.0)) + np.sum(_neg_log_normal(pars[2:], 1.0))
        grad = jac @ (1.0 - data / lam)
        if dslope is not None:  # the data move with z too
            grad[1] -= np.sum(dslope * (np.log(lam) - digamma(data + 1.0)))
        grad[2:] += pars[2:]
        if self.z_sigma is not None:
            nll += _neg_log_normal(pars[1], self.z_sigma)
            grad[1] += pars[1] / self.z_sigma**2
        return float(nll), grad

    def nll(self, pars: np.ndarray, data: np.ndarray) -> float:
        """``-log L``: Poisson terms plus Gaussian constraints, all constants included."""
        return self._nll_grad(np.asarray(pars, dtype=float), np.asarray(data, dtype=float))[0]

    def asimov(self, mu: float, z: float, alphas: Sequence[float] | None = None) -> np.ndarray:
        """Expected counts at the given true values (alphas default 0)."""
        a = np.zeros(len(self.norms)) if alphas is None else np.asarray(alphas, dtype=float)
        return self.expected(np.concatenate([[mu, z], a]))


@dataclass(frozen=True)
class FitResult:
    """Best-fit parameters (all, fixed included), the NLL there, names, and the fixed names."""

    pars: np.ndarray
    nll: float
    names: list[str]
    converged: bool
    fixed: tuple[str, ...] = ()


def fit(model: ProfileModel, data: np.ndarray, fixed: Mapping[str, float] | None = None,
        init: Sequence[float] | None = None) -> FitResult:
    """Minimise the NLL over the free parameters (L-BFGS-B, one minimisation per z segment)."""
    data, names, fixed = np.asarray(data, dtype=float), model.parameter_names, dict(fixed or {})
    if unknown := set(fixed) - set(names):
        raise ValueError(f"unknown fixed parameters {sorted(unknown)}; parameters are {names}")
    p0 = np.array([1.0, 0.0, *[0.0] * len(model.norms)] if init is None else init, dtype=float)
    bounds = model.bounds
    p0 = np.clip(p0, [b[0] for b in bounds], [b[1] for b in bounds])
    for k, v in fixed.items():
        p0[names.index(k)] = v
    free = [i for i, n in enumerate(names) if n not in fixed]
    starts: list[tuple[int | None, list[tuple[float, float]], np.ndarray]] = []
    if 1 in free:  # z free: a smooth sub-problem on every segment between nodes/bounds
        zl, zh = bounds[1]
        g = model.templates.z
        edges = np.unique(np.concatenate([[zl, zh], g[(g > zl) & (g < zh)]]))
        for a, b in zip(edges[:-1], edges[1:]) if edges.size > 1 else [(zl, zh)]:
            p = p0.copy()
            p[1] = p0[1] if a <= p0[1] <= b else 0.5 * (a + b)
            bnd = list(bounds)
            bnd[1] = (a, b)
            starts.append((model.templates.segment(0.5 * (a + b)), bnd, p))
    else:
        starts.append((None, bounds, p0))
    best: FitResult | None = None
    for seg, bnd, p in starts:
        if free:
            def fun(x: np.ndarray, p: np.ndarray = p, seg: int | None = seg) -> tuple[float, np.ndarray]:
                q = p.copy()
                q[free] = x
                v, gr = model._nll_grad(q, data, seg)
                return v, gr[free]

            r = minimize(fun, p[free], jac=True, method="L-BFGS-B", bounds=[bnd[i] for i in free],
                         options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000})
            q = p.copy()
            q[free] = r.x
            res = FitResult(q, model.nll(q, data), names, bool(r.success), tuple(fixed))
        else:
            res = FitResult(p, model.nll(p, data), names, True, tuple(fixed))
        if np.isfinite(res.nll) and (best is None or res.nll < best.nll):
            best = res
    if best is None:
        raise ProfileFitError(f"fit with fixed {fixed} gave a non-finite NLL")
    return best


def profile_scan(model: ProfileModel, data: np.ndarray, mus: Sequence[float]) -> np.ndarray:
    """``q(mu) = 2 (NLL profiled at mu - global minimum NLL)`` for each mu, >= 0."""
    glob = fit(model, data)
    nlls = []
    for m in mus:
        r = fit(model, data, {"mu": float(m)}, init=glob.pars)
        if r.nll < glob.nll - 1e-6:  # the global fit missed: redo it from this point
            glob = min(glob, fit(model, data, init=r.pars), key=lambda f: f.nll)
        nlls.append(r.nll)
    return np.clip(2.0 * (np.array(nlls) - glob.nll), 0.0, None)


def interval(model: ProfileModel, data: np.ndarray, level: float = 1.0,
             fixed: Mapping[str, float] | None = None) -> tuple[float, float, float]:
    """``(mu_hat, lo, hi)``: crossings of ``q(mu) = level`` each side of the best fit (profiled,
    nuisances in ``fixed`` held at the given values); a mu bound where q never reaches ``level``."""
    fixed = dict(fixed or {})
    if "mu" in fixed:
        raise ValueError("mu cannot be fixed in interval()")
    glob = fit(model, data, fixed)
    for _ in range(3):
        state = {"glob": glob, "restart": False}

        def q(m: float) -> float:
            r = fit(model, data, {**fixed, "mu": m}, init=state["glob"].pars)
            if r.nll < state["glob"].nll - 1e-6:
                state["glob"], state["restart"] = fit(model, data, fixed, init=r.pars), True
            return 2.0 * (r.nll - glob.nll)

        mu_hat = float(glob.pars[0])
        try:  # the first bracketing step: the Hessian's sigma_mu, scaled to the level
            var = hessian_covariance(model, data, glob)[0, 0]
        except np.linalg.LinAlgError:
            var = np.nan
        step = (np.sqrt(var) if np.isfinite(var) and var > 0 else 0.1) * np.sqrt(level)
        ends = []
        for sign, bound in ((-1, model.mu_bounds[0]), (1, model.mu_bounds[1])):
            a, b, h = mu_hat, mu_hat, step
            while True:
                b = float(np.clip(b + sign * h, *model.mu_bounds))
                if q(b) >= level:
                    ends.append(brentq(lambda m: q(m) - level, a, b, xtol=1e-10, rtol=1e-12))
                    break
                if b == bound:
                    log.warning("q(mu) stays below %g up to the mu bound %g; returning the bound", level, bound)
                    ends.append(bound)
                    break
                a, h = b, h * 1.6
        if not state["restart"]:
            return mu_hat, ends[0], ends[1]
        glob = state["glob"]
    raise ProfileFitError(f"global fit with fixed {fixed} keeps being undercut by profiled fits")


def free_hessian(model: ProfileModel, data: np.ndarray, result: FitResult) -> tuple[np.ndarray, list[int]]:
    """NLL Hessian over the free parameters at ``result`` (central differences of the analytic
    gradient; at a z node the two one-sided curvatures are averaged), and their indices."""
    data, p = np.asarray(data, dtype=float), np.asarray(result.pars, dtype=float)
    free = [i for i, n in enumerate(result.names) if n not in result.fixed]
    dz = float(np.min(np.diff(model.templates.z)))
    hess = np.zeros((len(free), len(free)))
    for col, i in enumerate(free):
        h = 1e-3 * dz if i == 1 else 1e-4 * max(1.0, abs(p[i]))
        up, dn = p.copy(), p.copy()
        up[i] += h
        dn[i] -= h
        hess[:, col] = (model._nll_grad(up, data)[1][free] - model._nll_grad(dn, data)[1][free]) / (2 * h)
    return 0.5 * (hess + hess.T), free


def is_positive_definite(hess: np.ndarray, rtol: float = 1e-12) -> bool:
    """All eigenvalues finite and above ``rtol`` times the largest."""
    if not np.isfinite(hess).all():
        return False
    eig = np.linalg.eigvalsh(hess)
    return bool(eig[0] > rtol * abs(eig[-1]))


def hessian_covariance(model: ProfileModel, data: np.ndarray, result: FitResult,
                       hessian: tuple[np.ndarray, list[int]] | None = None) -> np.ndarray:
    """Inverse of :func:`free_hessian` (or of the given ``hessian``), as ``(n_pars, n_pars)`` in
    ``parameter_names`` order with zero rows/columns for fixed parameters; the pseudo-inverse
    where the Hessian is not positive definite (check :func:`is_positive_definite` first)."""
    hess, free = free_hessian(model, data, result) if hessian is None else hessian
    n = len(result.pars)
    cov = np.zeros((n, n))
    cov[np.ix_(free, free)] = np.linalg.inv(hess) if is_positive_definite(hess) else np.linalg.pinv(hess)
    return cov
