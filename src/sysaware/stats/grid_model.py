"""A HistFactory likelihood whose templates *and data* are rebuilt at each node of one nuisance's grid.

For a summary that takes the nuisance z as an input (an uncertainty-aware classifier f(x, z), Ghosh,
Nachman, Whiteson), the binning itself depends on the hypothesised z: at each node z_k the events
are binned with f(., z_k), so both the templates and the observed histogram are those of node k.
Between nodes both are interpolated linearly in z (outside the grid, the end segments are
continued), as :mod:`sysaware.higgsml.profile` does for the HiggsML study:

    lambda_b(theta, z) = (1 - w) lambda_b^(i)(theta) + w lambda_b^(i+1)(theta),
    n_b(z)            = (1 - w) n_b^(i) + w n_b^(i+1),        w = (z - z_i) / (z_{i+1} - z_i),

where lambda^(k) is the HistFactory model of :class:`~sysaware.stats.torch_model.TorchModel`
(every other modifier: normfactors, normsys, histosys, NormPlusShape, staterror) filled with the
templates of node k, and z has a Gaussian constraint of width ``z_sigma``.  The NLL is
``-sum_b log Pois(n_b(z) | lambda_b)`` (real n: pyhf's continuation, constants included) minus the
other parameters' constraint terms (staterror's widths from the node nearest z = 0) plus
``z^2 / (2 z_sigma^2) + log(z_sigma sqrt(2 pi))``.

For a summary that does not depend on z (the same data at every node) and a model whose other
modifiers do not depend on the node, this is pyhf's model with z as a ``histosys`` of code0
between the nodes (``tests/test_grid_model.py`` checks it to 1e-10).

The model has kinks at the nodes, so :meth:`GridModel.minimize` fits every segment separately
(where it is smooth, with exact gradients) and keeps the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import brentq, minimize
from torch import Tensor

from .spec import ModelSpec, Templates
from .torch_model import TorchModel, as_tensor_templates, poisson_logpdf

Z_BOUNDS = (-5.0, 5.0)
#: smallest expected events per bin in the NLL (below it, pyhf's NLL is NaN or infinite)
LAMBDA_FLOOR = 1e-10


@dataclass
class GridFit:
    """A minimum of :class:`GridModel`: parameters (the model's labels), NLL, success."""

    pars: np.ndarray
    nll: float
    converged: bool


class GridModel:
    """The likelihood of the module docstring: ``spec`` without the grid nuisance, one set of
    templates and one observed histogram per node of ``nodes`` (strictly increasing)."""

    def __init__(self, spec: ModelSpec, nodes: Sequence[float], templates: Sequence[Templates],
                 data: Sequence[np.ndarray], z_name: str = "z", z_sigma: float = 1.0):
        z = np.asarray(nodes, dtype=np.float64)
        if z.ndim != 1 or len(z) < 2 or np.any(np.diff(z) <= 0):
            raise ValueError(f"grid nodes must be at least two, strictly increasing: {list(nodes)}")
        if not (len(templates) == len(data) == len(z)):
            raise ValueError(f"{len(z)} nodes need as many template sets and histograms ({len(templates)}, {len(data)})")
        n_bins = len(np.asarray(data[0]))
        self.spec, self.nodes, self.z_name, self.z_sigma = spec, z, z_name, float(z_sigma)
        self.model = TorchModel(spec, n_bins)
        self.templates = [as_tensor_templates(t) for t in templates]
        self.data = [torch.as_tensor(np.asarray(d, dtype=np.float64)) for d in data]
        self.labels = [*self.model.labels, z_name]
        self.poi_index = self.model.poi_index
        self.z_index = len(self.labels) - 1
        self._centre = int(np.argmin(np.abs(z)))  # staterror widths from the node nearest z = 0
        self._nodes_t = torch.as_tensor(z)

    # ---- the likelihood -----------------------------------------------------
    def segment(self, z: float) -> int:
        """Index i of the segment [z_i, z_i+1] used at z (the end segments continue outside the grid)."""
        return int(np.clip(np.searchsorted(self.nodes, z, side="right") - 1, 0, len(self.nodes) - 2))

    def _weight(self, z: Tensor, i: int) -> Tensor:
        return (z - self._nodes_t[i]) / (self._nodes_t[i + 1] - self._nodes_t[i])

    def expected(self, pars: Tensor, segment: int | None = None) -> Tensor:
        """Expected events per bin at ``pars`` (the model's parameters, then z)."""
        z = pars[self.z_index]
        i = self.segment(float(z)) if segment is None else segment
        w = self._weight(z, i)
        theta = pars[: self.z_index]
        return (1 - w) * self.model.expected(theta, self.templates[i]) + w * self.model.expected(theta, self.templates[i + 1])

    def observed(self, z: Tensor, segment: int | None = None, data: Sequence[Tensor] | None = None) -> Tensor:
        """The data histogram at z (interpolated between the nodes' histograms, never below 0)."""
        d = self.data if data is None else data
        i = self.segment(float(z)) if segment is None else segment
        w = self._weight(z, i)
        return torch.clamp((1 - w) * d[i] + w * d[i + 1], min=0.0)

    def nll(self, pars: Tensor, segment: int | None = None, data: Sequence[Tensor] | None = None) -> Tensor:
        """Negative log-likelihood at ``pars`` (see the module docstring)."""
        z = pars[self.z_index]
        i = self.segment(float(z)) if segment is None else segment
        # a step of the minimiser into a region where a bin's expectation is not positive (a histosys
        # shift larger than the nominal) meets a finite wall instead of a NaN
        lam = torch.clamp(self.expected(pars, i), min=LAMBDA_FLOOR)
        n = self.observed(z, i, data)
        constraint = self.model.constraint_logpdf(pars[: self.z_index], self.templates[self._centre])
        zz = z / self.z_sigma
        return (-(poisson_logpdf(n, lam).sum() + constraint) + 0.5 * zz * zz
                + math.log(self.z_sigma) + 0.5 * math.log(2 * math.pi))

    # ---- fits ---------------------------------------------------------------
    def init(self) -> np.ndarray:
        """Initial parameters: the model's (pyhf's defaults), z = 0."""
        return np.concatenate([self.model.init().numpy(), [0.0]])

    def bounds(self) -> list[tuple[float, float]]:
        """Bounds of every parameter (z within :data:`Z_BOUNDS`)."""
        return [*self.model.bounds(), Z_BOUNDS]

    def minimize(self, fixed: Mapping[str, float] | None = None, data: Sequence[Tensor] | None = None,
                 start: np.ndarray | None = None, polish: bool = True, local: bool = False) -> GridFit:
        """The best fit (``fixed``: parameters held at a value, by label) over the segments of z.

        ``polish``: Newton steps with the exact Hessian after L-BFGS-B (for the best fit itself; a
        profile scan's fits do without: their NLL is already within 1e-7).  ``local``: start in the
        segment of the start's z and move to a neighbour only while the minimum lies on the node
        between them (a profile scan near a best fit, where the NLL is unimodal in z); otherwise
        every segment is fitted and the best kept.
        """
        fixed = dict(fixed or {})
        unknown = set(fixed) - set(self.labels)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)} (known: {self.labels})")
        p0 = self.init() if start is None else np.array(start, dtype=np.float64)
        fixed_index = {self.labels.index(k): float(v) for k, v in fixed.items()}
        for k, v in fixed_index.items():
            p0[k] = v
        frozen = ~self.model.free_mask().numpy()
        free = [k for k in range(len(p0)) if k not in fixed_index and not (k < self.z_index and frozen[k])]
        last = len(self.nodes) - 2
        if self.z_index in fixed_index:
            return self._fit_segment(self.segment(fixed_index[self.z_index]), p0, free, data, polish)
        if not local:
            fits = [self._fit_segment(seg, p0, free, data, polish) for seg in range(last + 1)]
            return min(fits, key=lambda fit: fit.nll)
        seg = self.segment(float(p0[self.z_index]))
        best = self._fit_segment(seg, p0, free, data, polish)
        seen = {seg}
        while True:
            z = float(best.pars[self.z_index])
            tol = 1e-6 * (self.nodes[-1] - self.nodes[0])
            seg = self.segment(z)
            if seg > 0 and abs(z - self.nodes[seg]) <= tol and seg - 1 not in seen:
                seg -= 1
            elif seg < last and abs(z - self.nodes[seg + 1]) <= tol and seg + 1 not in seen:
                seg += 1
            else:
                return best
            seen.add(seg)
            fit = self._fit_segment(seg, best.pars, free, data, polish)
            if not fit.nll < best.nll:
                return best
            best = fit

    def _fit_segment(self, seg: int, p0: np.ndarray, free: list[int], data: Sequence[Tensor] | None,
                     polish: bool) -> GridFit:
        """The minimum with z within segment ``seg`` (the end segments open to :data:`Z_BOUNDS`)."""
        bounds = self.bounds()
        lo = Z_BOUNDS[0] if seg == 0 else self.nodes[seg]
        hi = Z_BOUNDS[1] if seg == len(self.nodes) - 2 else self.nodes[seg + 1]
        seg_bounds = [bounds[k] if k != self.z_index else (lo, hi) for k in free]
        x0 = np.array(p0, dtype=np.float64)
        x0[self.z_index] = float(np.clip(x0[self.z_index], lo, hi))
        base = torch.as_tensor(x0)
        if not free:  # every parameter held: the NLL there
            with torch.no_grad():
                value = float(self.nll(base, seg, data))
            return GridFit(pars=x0, nll=value, converged=bool(np.isfinite(value)))
        index = (torch.as_tensor(free),)

        def f(x: np.ndarray) -> tuple[float, np.ndarray]:
            xt = torch.as_tensor(x, dtype=torch.float64).requires_grad_(True)
            value = self.nll(base.index_put(index, xt), seg, data)
            (grad,) = torch.autograd.grad(value, xt)
            return float(value.detach()), grad.numpy()

        res = minimize(f, x0[free], jac=True, method="L-BFGS-B", bounds=seg_bounds,
                       options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7})
        x, value = res.x, float(res.fun)
        if polish:
            x, value = self._newton(x, value, free, x0, seg, seg_bounds, data)
        pars = x0.copy()
        pars[free] = x
        return GridFit(pars=pars, nll=value, converged=bool(res.success or res.status == 2) and np.isfinite(value))

    def _newton(self, x: np.ndarray, value: float, free: list[int], base: np.ndarray, seg: int,
                bounds: list[tuple[float, float]], data: Sequence[Tensor] | None, steps: int = 8) -> tuple[np.ndarray, float]:
        """Newton steps with the exact Hessian from L-BFGS-B's end point (kept within the bounds, taken
        only while the NLL falls): L-BFGS-B stops short of the minimum by ~1e-7 in the NLL."""
        idx = torch.as_tensor(free)
        lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])

        def nll_of(xt: Tensor) -> Tensor:
            return self.nll(torch.as_tensor(base).index_put((idx,), xt), seg, data)

        for _ in range(steps):
            xt = torch.as_tensor(x, dtype=torch.float64)
            g = torch.func.grad(nll_of)(xt).numpy()
            h = torch.func.hessian(nll_of)(xt).numpy()
            try:
                step = np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                break
            trial = np.clip(x - step, lo, hi)
            trial_value = float(nll_of(torch.as_tensor(trial)))
            if not trial_value < value:
                break
            x, value = trial, trial_value
        return x, value

    def hessian(self, pars: np.ndarray, data: Sequence[Tensor] | None = None) -> np.ndarray:
        """Hessian of the NLL at ``pars`` (on the segment of its z)."""
        p = torch.as_tensor(pars, dtype=torch.float64)
        seg = self.segment(float(p[self.z_index]))
        return torch.func.hessian(lambda q: self.nll(q, seg, data))(p).numpy()

    def asimov_data(self, pars: np.ndarray | None = None) -> list[Tensor]:
        """Asimov histograms at every node: each node's expected events at ``pars`` (default: init)."""
        p = torch.as_tensor(self.init() if pars is None else pars, dtype=torch.float64)
        with torch.no_grad():
            return [self.model.expected(p[: self.z_index], t) for t in self.templates]

    def interval(self, best: GridFit, data: Sequence[Tensor] | None = None, fixed: Mapping[str, float] | None = None,
                 step: float | None = None, tol: float = 1e-4) -> tuple[float, float]:
        """The 68% profile-likelihood interval of the POI (-2 delta ln L = 1), nuisances profiled
        (or held at ``fixed``).

        Each edge is the root of r(mu) = sqrt(2 delta NLL(mu)) - 1 on its side, which is linear in
        mu for a parabolic profile: secant steps from mu_hat +- the Hessian's sigma, until
        |r| <= ``tol`` (the edge then within ~tol sigma); a bracketing root search (brentq) where
        the secant leaves its side or does not settle.
        """
        poi = self.labels[self.poi_index]
        mu0 = float(best.pars[self.poi_index])
        lo_b, hi_b = self.bounds()[self.poi_index]
        if step is None:
            h = self.hessian(best.pars, data)
            fixed_idx = {self.labels.index(n) for n in (fixed or {})}
            free = [k for k in range(len(self.labels)) if k not in fixed_idx]
            try:
                cov = np.linalg.inv(h[np.ix_(free, free)])
                step = float(np.sqrt(max(cov[free.index(self.poi_index)][free.index(self.poi_index)], 1e-8)))
            except np.linalg.LinAlgError:
                step = 0.1 * max(abs(mu0), 1.0)
        base = self.minimize({**(fixed or {})}, data, start=best.pars).nll if fixed else best.nll
        starts: dict[float, np.ndarray] = {}

        def r(mu: float) -> float:
            # the profile fit starts from the nearest profile point already fitted
            near = min(starts, key=lambda m: abs(m - mu)) if starts else None
            start = best.pars if near is None else starts[near]
            fit = self.minimize({**(fixed or {}), poi: mu}, data, start=start, polish=False, local=True)
            starts[mu] = fit.pars
            return math.sqrt(max(2 * (fit.nll - base), 0.0)) - 1.0

        edges = []
        for sign, bound in ((-1, lo_b), (1, hi_b)):
            starts.clear()
            edges.append(self._edge(r, mu0, sign, step, bound, tol))
        return edges[0], edges[1]

    @staticmethod
    def _edge(r: Callable[[float], float], mu0: float, sign: int, step: float, bound: float, tol: float) -> float:
        """The root of ``r`` (r(mu0) = -1, increasing away from mu0) on the ``sign`` side, or ``bound``.

        Secant steps while they stay inside the bracket known so far; otherwise the step away from
        mu0 doubles until r changes sign (or the bound is reached), and brentq solves in the bracket.
        """
        inside = mu0                          # farthest point known with r < 0
        outside: float | None = None          # nearest point known with r >= 0
        a, ra = mu0, -1.0
        b = mu0 + sign * step
        for _ in range(40):
            if (b - bound) * sign >= 0:
                b = bound
            rb = r(b)
            if abs(rb) <= tol:
                return b
            if rb < 0:
                if b == bound:
                    return bound
                inside = b
            else:
                outside = b
            c = b - rb * (b - a) / (rb - ra) if rb != ra else math.nan
            far = outside if outside is not None else bound
            if not (math.isfinite(c) and (c - inside) * sign > 0 and (far - c) * sign > 0):
                if outside is not None:
                    break
                c = inside + sign * 2 * abs(inside - mu0)  # no root seen yet: twice as far out
            a, ra, b = b, rb, c
        if outside is None:
            return bound
        return float(brentq(r, min(inside, outside), max(inside, outside), xtol=tol * step))
