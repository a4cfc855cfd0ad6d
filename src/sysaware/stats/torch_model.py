"""Differentiable HistFactory likelihood in torch (the likelihood inside the INFERNO loss).

The expected rate of bin b is, as in pyhf,

    lambda_b = sum_s [ prod_{multiplicative m} f_m(theta) ] * (nom_sb + sum_{histosys h} delta_hsb(theta))

and the NLL is -log of prod_b Pois(n_b | lambda_b) times the Gaussian constraints
N(aux | theta, sigma), including all constants, so that it equals
``-pyhf.Model.logpdf`` to rounding.  The Hessian is taken with ``torch.func.hessian``
at the Asimov point, with the Asimov data *not* detached from the templates: its
value is the Fisher information and its gradient is the gradient of the Fisher
information with respect to whatever produced the templates (the network).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from .interpolation import histosys_delta, normsys_factor
from .spec import ModelSpec, Templates, names_of, parameter_layout

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

# pyhf's defaults for inits and bounds per modifier type
DEFAULT_INIT = {"normfactor": 1.0, "normsys": 0.0, "histosys": 0.0, "normplusshape": 0.0}
_DEFAULT_BOUNDS = {
    "normfactor": (0.0, 10.0),
    "normsys": (-5.0, 5.0),
    "histosys": (-5.0, 5.0),
    "normplusshape": (-5.0, 5.0),
}
STATERROR_BOUNDS = (1e-10, 10.0)
# smallest/largest Hessian eigenvalue below which parameters count as not identifiable
MIN_EIGEN_RATIO = 1e-12


def poisson_logpdf(n: Tensor, lam: Tensor) -> Tensor:
    """log Pois(n | lam) continued to real n, as pyhf's ``poisson_logpdf``."""
    return torch.xlogy(n, lam) - lam - torch.lgamma(n + 1)


def normal_logpdf(x: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """log N(x | mu, sigma)."""
    z = (x - mu) / sigma
    return -0.5 * z * z - torch.log(sigma) - _LOG_SQRT_2PI


class SingularFisherError(ArithmeticError):
    """The Asimov Hessian cannot be inverted (parameters not identifiable)."""


def inverse_fisher(hess: Tensor, names: list[str]) -> Tensor:
    """Inverse of an Asimov Hessian over the parameters ``names``; :class:`SingularFisherError`
    when it is not finite or not positive definite (smallest eigenvalue below
    ``MIN_EIGEN_RATIO`` times the largest): the INFERNO loss would be meaningless there."""
    with torch.no_grad():
        h = hess.detach()
        finite = bool(torch.isfinite(h).all())
        eig = torch.linalg.eigvalsh(h) if finite else h.new_full(h.shape[:1], math.nan)
    if not bool(torch.isfinite(eig).all()) or eig[0] <= MIN_EIGEN_RATIO * eig[-1].abs():
        what = f"eigenvalues {eig.min().item():.3g} .. {eig.max().item():.3g}" if finite else "non-finite entries"
        raise SingularFisherError(
            f"Asimov Hessian is singular: parameters {names} are not identifiable with these templates ({what})"
        )
    return torch.linalg.inv(hess)


class TorchModel:
    """Functional torch view of a :class:`ModelSpec` for a given number of bins.

    Parameters are one flat vector ordered as :attr:`labels`; templates are passed
    to every call, so the same object serves a training loop whose templates change
    at every step.
    """

    def __init__(self, spec: ModelSpec, nbins: int, dtype: torch.dtype = torch.float64):
        self.spec = spec
        self.nbins = nbins
        self.dtype = dtype
        self.layout = parameter_layout(spec, nbins)
        self.labels = names_of(self.layout)
        self.slices: dict[str, slice] = {}
        start = 0
        for name, size in self.layout:
            self.slices[name] = slice(start, start + size)
            start += size
        self.n_params = start
        self.poi_index = self.slices[spec.poi].start

    # ---- parameter metadata -------------------------------------------------
    def init(self) -> Tensor:
        """Suggested initial values (pyhf defaults unless the spec sets them)."""
        vals: list[float] = []
        for mod in self.spec.modifiers:
            vals.append(DEFAULT_INIT[mod.type] if mod.init is None else float(mod.init))
        if self.spec.staterror_samples:
            vals.extend([1.0] * self.nbins)
        return torch.tensor(vals, dtype=self.dtype)

    def bounds(self) -> list[tuple[float, float]]:
        """Suggested bounds per flat parameter."""
        out = [m.bounds or _DEFAULT_BOUNDS[m.type] for m in self.spec.modifiers]
        if self.spec.staterror_samples:
            out.extend([STATERROR_BOUNDS] * self.nbins)
        return out

    def free_mask(self) -> Tensor:
        """True for parameters that float in the fit (and enter the Hessian)."""
        mask = [not m.fixed for m in self.spec.modifiers]
        if self.spec.staterror_samples:
            mask.extend([True] * self.nbins)
        return torch.tensor(mask)

    # ---- likelihood --------------------------------------------------------
    def expected(self, pars: Tensor, tpl: Templates[Tensor]) -> Tensor:
        """Expected events per bin, shape (nbins,)."""
        spec = self.spec
        total = torch.zeros(self.nbins, dtype=pars.dtype)
        gamma = pars[self.slices[spec.staterror_name]] if spec.staterror_samples else None
        for sample in spec.samples:
            nom = tpl.nominal[sample.name]
            rate = nom
            factor = torch.ones((), dtype=pars.dtype)
            for mod in spec.modifiers:
                if sample.name not in mod.samples:
                    continue
                theta = pars[self.slices[mod.name]][0]
                if mod.type == "normfactor":
                    factor = factor * theta
                elif mod.type == "normsys":
                    lo, hi = (torch.as_tensor(v, dtype=pars.dtype) for v in mod.lohi[sample.name])
                    factor = factor * normsys_factor(theta, lo, hi, spec.normsys_code)
                else:
                    up, down = tpl.up[mod.name][sample.name], tpl.down[mod.name][sample.name]
                    if mod.type == "normplusshape":
                        norm_lo, norm_hi, up, down = split_norm_and_shape(nom, up, down)
                        factor = factor * normsys_factor(theta, norm_lo, norm_hi, spec.normsys_code)
                    rate = rate + histosys_delta(theta, down, nom, up, spec.histosys_code)
            if gamma is not None and sample.staterror:
                factor = factor * gamma
            total = total + factor * rate
        return total

    def constraint_logpdf(self, pars: Tensor, tpl: Templates[Tensor]) -> Tensor:
        """Sum of the Gaussian constraint terms at the nominal auxiliary data."""
        spec = self.spec
        out = torch.zeros((), dtype=pars.dtype)
        one = torch.ones((), dtype=pars.dtype)
        for mod in spec.modifiers:
            if mod.type != "normfactor" and mod.constrained:
                theta = pars[self.slices[mod.name]][0]
                out = out + normal_logpdf(torch.zeros_like(theta), theta, one)
        if spec.staterror_samples:
            gamma = pars[self.slices[spec.staterror_name]]
            out = out + normal_logpdf(torch.ones_like(gamma), gamma, self.staterror_sigma(tpl)).sum()
        return out

    def staterror_sigma(self, tpl: Templates[Tensor]) -> Tensor:
        """Relative MC statistical uncertainty per bin of the staterror samples."""
        names = self.spec.staterror_samples
        nom = sum(tpl.nominal[s] for s in names)
        if bool((nom <= 0).any()):
            raise ValueError("staterror: a bin has no expected events from the staterror samples")
        return torch.sqrt(sum(tpl.sumw2[s] for s in names)) / nom

    def nll(self, pars: Tensor, data: Tensor, tpl: Templates[Tensor]) -> Tensor:
        """Negative log-likelihood, equal to ``-pyhf.Model.logpdf(pars, data + aux)``."""
        lam = self.expected(pars, tpl)
        return -(poisson_logpdf(data, lam).sum() + self.constraint_logpdf(pars, tpl))

    # ---- Asimov Fisher information -----------------------------------------
    def asimov_hessian(self, tpl: Templates[Tensor], pars: Tensor | None = None) -> Tensor:
        """Hessian of the NLL at ``pars`` (default: init) for Asimov data built at ``pars``.

        Differentiable with respect to the templates.
        """
        p0 = self.init() if pars is None else pars
        data = self.expected(p0, tpl)
        return torch.func.hessian(lambda p: self.nll(p, data, tpl))(p0)

    def covariance(self, tpl: Templates[Tensor], pars: Tensor | None = None) -> Tensor:
        """Inverse of the free-parameter block of the Asimov Hessian (free params only)."""
        mask = self.free_mask()
        hess = self.asimov_hessian(tpl, pars)[mask][:, mask]
        return inverse_fisher(hess, [n for n, m in zip(self.labels, mask.tolist()) if m])

    def poi_variance(self, tpl: Templates[Tensor], pars: Tensor | None = None) -> Tensor:
        """Expected variance of the POI: the (POI, POI) entry of the inverse Hessian.

        This is the INFERNO loss.
        """
        free_index = int(self.free_mask()[: self.poi_index].sum())
        return self.covariance(tpl, pars)[free_index, free_index]


def split_norm_and_shape(
    nom: Tensor, up: Tensor, down: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """cabinetry's NormPlusShape split: (norm lo, norm hi, shape-only up, shape-only down)."""
    nsum = nom.sum()
    hi = up.sum() / nsum
    lo = down.sum() / nsum
    return lo, hi, up / hi, down / lo


def as_tensor_templates(
    tpl: Templates, dtype: torch.dtype = torch.float64
) -> Templates[Tensor]:
    """Convert numpy templates (e.g. from ``hist``) to torch tensors."""

    def conv(d: Mapping) -> dict:
        return {k: torch.as_tensor(v, dtype=dtype) for k, v in d.items()}

    return Templates(
        nominal=conv(tpl.nominal),
        sumw2=conv(tpl.sumw2),
        up={m: conv(v) for m, v in tpl.up.items()},
        down={m: conv(v) for m, v in tpl.down.items()},
    )
