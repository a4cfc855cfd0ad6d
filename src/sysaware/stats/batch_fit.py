"""Many pseudo-experiments of one HistFactory model fitted at once (the toys of a coverage study).

The NLL is :class:`~sysaware.stats.torch_model.TorchModel`'s with the auxiliary data of each toy in
place of the nominal ones, i.e. ``-pyhf.Model.logpdf(pars, main + aux)`` for the same model:

    NLL = -sum_b log Pois(n_b | lambda_b(theta)) - sum_k log N(a_k | theta_k, sigma_k),

sigma_k = 1 for normsys/histosys/NormPlusShape (a_k nominally 0) and the relative MC uncertainty for
the staterror gammas (a_k nominally 1).  Toys are drawn as pyhf draws them (``Model.make_pdf(pars)
.sample``): n_b ~ Pois(lambda_b), a_k ~ N(theta_k, sigma_k).

A batch of B toys is fitted by damped Newton steps (Levenberg-Marquardt, one damping per toy) with
per-toy gradients and Hessians (``torch.func.vmap``), every parameter kept within its bounds; the
profile-likelihood interval of the POI is found for all toys together by secant steps on
r(mu) = sqrt(2 delta NLL) - sqrt(q), which is linear in mu for a parabolic profile, each profile fit
warm-started from the last.  ``tests/test_batch_fit.py`` checks fits and intervals against pyhf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..seeding import rng_for
from .spec import ModelSpec, Templates
from .torch_model import TorchModel, as_tensor_templates, normal_logpdf, poisson_logpdf

#: smallest expected events per bin inside the NLL (a trial step that drives a bin below zero meets a wall)
LAMBDA_FLOOR = 1e-10


@dataclass
class BatchFit:
    """Best fits of a batch: parameters (B, P), NLL (B,), convergence flags (B,)."""

    pars: Tensor
    nll: Tensor
    converged: Tensor


class ToyModel:
    """The model of ``spec`` filled with ``templates`` (numpy or torch), for batches of toys."""

    def __init__(self, spec: ModelSpec, templates: Templates):
        tpl = as_tensor_templates(templates)
        self.templates = tpl
        self.n_bins = len(next(iter(tpl.nominal.values())))
        self.model = TorchModel(spec, self.n_bins)
        self.labels = list(self.model.labels)
        self.poi_index = self.model.poi_index
        n = self.model.n_params
        constrained = torch.zeros(n, dtype=torch.bool)
        sigma = torch.ones(n, dtype=torch.float64)
        nominal_aux = torch.zeros(n, dtype=torch.float64)
        for mod in spec.modifiers:
            if mod.type != "normfactor" and mod.constrained:
                constrained[self.model.slices[mod.name]] = True
        if spec.staterror_samples:
            sl = self.model.slices[spec.staterror_name]
            constrained[sl] = True
            sigma[sl] = self.model.staterror_sigma(tpl)
            nominal_aux[sl] = 1.0
        self.constrained, self.sigma, self.nominal_aux = constrained, sigma, nominal_aux
        self.free = self.model.free_mask()
        b = torch.tensor(self.model.bounds(), dtype=torch.float64)
        self.lower, self.upper = b[:, 0], b[:, 1]

    # ---- the likelihood -----------------------------------------------------
    def init(self) -> Tensor:
        """pyhf's suggested initial parameters."""
        return self.model.init()

    def expected(self, pars: Tensor) -> Tensor:
        """Expected events per bin at one parameter vector."""
        return self.model.expected(pars, self.templates)

    def nll(self, pars: Tensor, main: Tensor, aux: Tensor) -> Tensor:
        """NLL of one toy (``main`` per bin, ``aux`` per parameter, read where constrained)."""
        lam = torch.clamp(self.expected(pars), min=LAMBDA_FLOOR)
        cons = torch.where(self.constrained, normal_logpdf(aux, pars, self.sigma), torch.zeros_like(pars))
        return -(poisson_logpdf(main, lam).sum() + cons.sum())

    def batch_nll(self, pars: Tensor, main: Tensor, aux: Tensor) -> Tensor:
        """NLL of every toy of a batch: ``pars`` (B, P), ``main`` (B, bins), ``aux`` (B, P)."""
        return torch.func.vmap(self.nll)(pars, main, aux)

    # ---- toys ---------------------------------------------------------------
    def sample(self, pars: np.ndarray | Tensor, n_toys: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """``n_toys`` toys at the true ``pars``: main (n_toys, bins) Poisson, aux (n_toys, P) Gaussian."""
        p = torch.as_tensor(pars, dtype=torch.float64)
        with torch.no_grad():
            lam = np.clip(self.expected(p).numpy(), 0.0, None)
        main = rng.poisson(lam, size=(n_toys, self.n_bins)).astype(np.float64)
        aux = rng.normal(p.numpy(), self.sigma.numpy(), size=(n_toys, len(self.labels)))
        aux = np.where(self.constrained.numpy(), aux, self.nominal_aux.numpy())
        return torch.as_tensor(main), torch.as_tensor(aux)

    def sample_indexed(self, pars: np.ndarray | Tensor, seed: int, first: int, n_toys: int,
                       *names: object) -> tuple[Tensor, Tensor]:
        """Toys number ``first`` .. ``first + n_toys - 1``, each from its own generator
        (:func:`sysaware.seeding.rng_for` of ``seed``, ``names`` and its number): the same toys however
        they are split into batches and jobs."""
        parts = [self.sample(pars, 1, rng_for(seed, *names, "toy", i)) for i in range(first, first + n_toys)]
        return torch.cat([m for m, _ in parts]), torch.cat([a for _, a in parts])

    # ---- fits ---------------------------------------------------------------
    def fit(self, main: Tensor, aux: Tensor, fixed: dict[int, Tensor | float] | None = None,
            start: Tensor | None = None, max_steps: int = 60, gtol: float = 1e-6) -> BatchFit:
        """Best fit of every toy; ``fixed``: parameter index -> value (a scalar or one per toy).

        A toy has converged when the largest free gradient component is below ``gtol`` or the Newton
        step's predicted decrease of the NLL is below 1e-12 (rounding then decides further steps).
        """
        n_toys = main.shape[0]
        x = (self.init().expand(n_toys, -1) if start is None else start).clone().to(torch.float64)
        free = self.free.expand(n_toys, -1).clone()
        for k, v in (fixed or {}).items():
            x[:, k] = torch.as_tensor(v, dtype=torch.float64)
            free[:, k] = False
        x = torch.minimum(torch.maximum(x, self.lower), self.upper)
        grad_hess = torch.func.vmap(torch.func.grad_and_value(self.nll))
        hess = torch.func.vmap(torch.func.hessian(self.nll))
        damping = torch.full((n_toys,), 1e-3, dtype=torch.float64)
        converged = torch.zeros(n_toys, dtype=torch.bool)
        eye = torch.eye(x.shape[1], dtype=torch.float64)
        g, f = grad_hess(x, main, aux)
        for _ in range(max_steps):
            t = torch.nonzero(~converged).squeeze(1)  # the toys still being fitted
            if len(t) == 0:
                break
            xt, gt, ft, mt, at, lam = x[t], g[t], f[t], main[t], aux[t], damping[t]
            # a parameter at a bound whose gradient pushes outwards is held there this step
            active = free[t] & ~((xt <= self.lower) & (gt > 0)) & ~((xt >= self.upper) & (gt < 0))
            g_act = torch.where(active, gt, torch.zeros_like(gt))
            h = hess(xt, mt, at)
            h = torch.where(active.unsqueeze(2) & active.unsqueeze(1), h, eye.expand_as(h))
            predicted = 0.5 * (g_act * torch.linalg.solve(h, g_act)).sum(dim=1)
            done = (g_act.abs().amax(dim=1) <= gtol) | ((predicted >= 0) & (predicted <= 1e-12))
            diag = torch.diagonal(h, dim1=1, dim2=2).abs().clamp(min=1e-12)
            step = -torch.linalg.solve(h + lam[:, None, None] * torch.diag_embed(diag), g_act)
            trial = torch.minimum(torch.maximum(xt + step, self.lower), self.upper)
            g_t, f_t = grad_hess(trial, mt, at)
            better = (f_t <= ft) & torch.isfinite(f_t) & ~done
            x[t] = torch.where(better[:, None], trial, xt)
            g[t] = torch.where(better[:, None], g_t, gt)
            f[t] = torch.where(better, f_t, ft)
            damping[t] = torch.where(better, (lam / 10).clamp(min=1e-9), (lam * 10).clamp(max=1e12))
            converged[t] = done
        return BatchFit(pars=x, nll=f, converged=converged)

    def intervals(self, main: Tensor, aux: Tensor, best: BatchFit, q: float = 1.0, tol: float = 1e-4,
                  max_steps: int = 20) -> tuple[Tensor, Tensor, Tensor]:
        """Profile-likelihood interval of the POI for every toy (2 delta NLL = ``q``), within its
        bounds; returns lower and upper edges and a flag per toy that both edges were found."""
        k = self.poi_index
        mu_hat = best.pars[:, k]
        h = torch.func.vmap(torch.func.hessian(self.nll))(best.pars, main, aux)
        free = self.free
        idx = torch.nonzero(free).squeeze(1)
        cov = torch.linalg.pinv(h[:, idx][:, :, idx])
        sigma = cov[:, int((idx == k).nonzero())][:, int((idx == k).nonzero())].clamp(min=1e-12).sqrt()
        target = float(np.sqrt(q))
        edges, found = [], torch.ones_like(mu_hat, dtype=torch.bool)
        for sign, bound in ((-1.0, self.lower[k]), (1.0, self.upper[k])):
            a, ra = mu_hat.clone(), torch.full_like(mu_hat, -target)
            b = torch.clamp(mu_hat + sign * sigma * target, min=self.lower[k], max=self.upper[k])
            start = best.pars
            done = torch.zeros_like(found)
            for _ in range(max_steps):
                prof = self.fit(main, aux, fixed={k: b}, start=start)
                start = prof.pars
                rb = torch.sqrt(torch.clamp(2 * (prof.nll - best.nll), min=0.0)) - target
                at_bound = (b == bound) & (rb < 0)
                done = done | (rb.abs() <= tol) | at_bound
                if bool(done.all()):
                    break
                slope = (rb - ra) / (b - a)
                c = b - rb / torch.where(slope.abs() > 1e-12, slope, torch.full_like(slope, 1e-12))
                # keep the secant on its side of mu_hat; halve towards mu_hat where it would cross
                c = torch.where((c - mu_hat) * sign > 0, c, 0.5 * (b + mu_hat))
                c = torch.clamp(c, min=self.lower[k], max=self.upper[k])
                a = torch.where(done, a, b)
                ra = torch.where(done, ra, rb)
                b = torch.where(done, b, c)
            found = found & done
            edges.append(b)
        return edges[0], edges[1], found
