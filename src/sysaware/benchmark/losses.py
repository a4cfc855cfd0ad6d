"""INFERNO losses on the synthetic mixture (the classifiers' cross-entropy is sysaware.train.losses.bce_loss).

INFERNO's loss is var(s) = (H^-1)_ss of the Asimov NLL built from soft histograms of the
network output.  The nuisances r and lam enter in one of two ways (``nuisance_mode``):

``exact``
    r and lam are parameters of the likelihood; background events generated at the
    nominal point are moved to (r, lam) by :func:`~sysaware.benchmark.mixture.shift_background`
    inside the function that torch.func differentiates, so the Hessian sees the true
    dependence of the summary on (r, lam).
``interp``
    the HistFactory model of :func:`benchmark_spec` (the same model the final pyhf fit
    uses): up/down templates at r = +-0.4 and lam = 3 +- 1 (alpha = (p - p0) / sigma), code4p
    interpolation, Gaussian constraints as the benchmark says.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from scipy.optimize import brentq
from torch import Tensor, nn

from ..stats import ModelSpec, Templates
from ..stats.torch_model import TorchModel, inverse_fisher
from ..stats.interpolation import code4_coefficients
from ..summaries import softmax_histogram
from ..train.templates import SampleEvents, Variation, soft_templates
from .analytic import BENCHMARKS, PARAMS
from .mixture import shift_background
from .model import B_SIGMA, NOMINAL, VARIATION

NUISANCE_MODES = ("exact", "interp")


def gaussian_normsys(rel_sigma: float) -> tuple[float, float]:
    """Symmetric (lo, hi) whose code4 normsys has slope ``rel_sigma`` at alpha = 0.

    With a N(0, 1) constraint on alpha this is a Gaussian constraint of relative width
    ``rel_sigma`` on the normalisation, to first order (what the Asimov Fisher sees).
    """

    def slope(d: float) -> float:
        lo, hi = torch.tensor(1 - d, dtype=torch.float64), torch.tensor(1 + d, dtype=torch.float64)
        return float(code4_coefficients(lo, hi)[0]) - rel_sigma

    d = brentq(slope, 0.5 * rel_sigma, min(2 * rel_sigma, 0.99), xtol=1e-15)
    return 1 - d, 1 + d


@lru_cache(maxsize=None)
def benchmark_spec(benchmark: int) -> ModelSpec:
    """HistFactory model of benchmark 0..4: POI mu on signal, r/lam histosys, b normsys."""
    bm = BENCHMARKS[benchmark]
    mods: list[dict] = [
        {"name": "mu", "type": "normfactor", "samples": ["sig"], "bounds": [0.0, 10.0]}
    ]
    for p in ("r", "lam"):
        mods.append(
            {
                "name": p,
                "type": "histosys",
                "samples": ["bkg"],
                "fixed": p not in bm.free,
                "constrained": bm.sigma.get(p) is not None or p not in bm.free,
            }
        )
    if "b" in bm.free:
        lo, hi = gaussian_normsys(B_SIGMA / NOMINAL["b"])
        mods.append({"name": "b", "type": "normsys", "samples": {"bkg": {"lo": lo, "hi": hi}}})
    return ModelSpec.from_config(
        {"poi": "mu", "samples": [{"name": "sig"}, {"name": "bkg"}], "modifiers": mods}
    )


def _shape(net: nn.Module, x: Tensor, temperature: float) -> Tensor:
    """Normalised soft histogram (sums to one) of ``x`` through ``net``, float64."""
    return softmax_histogram(net(x), None, temperature).double() / x.shape[0]


def shift_nominal(xb: Tensor, param: str, delta: float) -> Tensor:
    """Nominal background events moved to ``param`` (``r`` or ``lam``) = nominal + ``delta``."""
    point = {"r": NOMINAL["r"], "lam": NOMINAL["lam"]}
    point[param] += delta
    return shift_background(xb, point["r"], point["lam"])


def interp_events(xs: Tensor, xb: Tensor) -> dict[str, SampleEvents]:
    """The HistFactory model's samples as events: signal, background, and background moved to
    r and lam at +-1 sigma (the same events), every event of weight one."""
    variations = {}
    for p in ("r", "lam"):
        for sign, side in ((1.0, "up"), (-1.0, "down")):
            shifted = shift_nominal(xb, p, sign * VARIATION[p])
            variations[f"{p}_{side}"] = Variation(w=torch.ones(len(shifted), dtype=xb.dtype, device=xb.device),
                                                  x=shifted, total=NOMINAL["b"])
    ones = {k: torch.ones(len(v), dtype=v.dtype, device=v.device) for k, v in (("s", xs), ("b", xb))}
    return {"sig": SampleEvents(x=xs, w=ones["s"], total=NOMINAL["s"]),
            "bkg": SampleEvents(x=xb, w=ones["b"], total=NOMINAL["b"], variations=variations)}


def interp_templates(
    net: nn.Module, xs: Tensor, xb: Tensor, temperature: float
) -> Templates[Tensor]:
    """Soft-histogram templates of the HistFactory model: nominal, and r/lam at +-1 sigma."""
    return soft_templates(net, interp_events(xs, xb), ("r", "lam"), temperature)


def inferno_loss_interp(
    net: nn.Module, xs: Tensor, xb: Tensor, benchmark: int, temperature: float
) -> Tensor:
    """var(s) from the HistFactory model with interpolated r/lam templates."""
    spec = benchmark_spec(benchmark)
    tpl = interp_templates(net, xs, xb, temperature)
    model = TorchModel(spec, tpl.check(spec))
    return NOMINAL["s"] ** 2 * model.poi_variance(tpl)


def asimov_fisher(jac: Tensor, nu: Tensor, benchmark: int) -> Tensor:
    """Asimov information in (s, free nuisances) of benchmark ``benchmark``.

    ``jac`` is d nu / d(s, r, lam, b), shape (n_bins, 4), and ``nu`` the expected counts.
    At the Asimov point (data = nu) the Hessian of the Poisson NLL is exactly
    J^T diag(1/nu) J (the second-derivative term is multiplied by 1 - n/nu = 0 for every
    value of the network's weights), so its gradient is that of the Hessian too; Gaussian
    constraints add 1/sigma^2 on the diagonal, fixed parameters are dropped.
    """
    bm = BENCHMARKS[benchmark]
    j = jac[:, [0] + [PARAMS.index(p) for p in bm.free]]
    info = j.T @ (j / nu[:, None])
    prior = [0.0] + [0.0 if bm.sigma.get(p) is None else bm.sigma[p] ** -2 for p in bm.free]
    return info + torch.diag(torch.tensor(prior, dtype=info.dtype, device=info.device))


def inferno_loss_exact(
    net: nn.Module, xs: Tensor, xb: Tensor, benchmark: int, temperature: float
) -> Tensor:
    """var(s) with r and lam applied to the background inputs inside the likelihood.

    d nu / d(r, lam) is taken by forward-mode differentiation through
    :func:`~sysaware.benchmark.mixture.shift_background` and the network; the Asimov
    Hessian is then the closed form of :func:`asimov_fisher` (2-3x cheaper per step
    than ``torch.func.hessian`` of the NLL, to which it is equal; see the tests).
    """
    hs = _shape(net, xs, temperature)
    s, b = NOMINAL["s"], NOMINAL["b"]
    point = torch.tensor([NOMINAL["r"], NOMINAL["lam"]], dtype=xb.dtype, device=xb.device)

    def bkg(rl: Tensor) -> Tensor:
        return _shape(net, shift_background(xb, rl[0], rl[1]), temperature)

    hb = bkg(point)
    d_rl = torch.func.jacfwd(bkg)(point)
    jac = torch.cat([hs[:, None], b * d_rl.to(hs.dtype), hb[:, None]], dim=1)
    info = asimov_fisher(jac, s * hs + b * hb, benchmark)
    return inverse_fisher(info, ["s", *BENCHMARKS[benchmark].free])[0, 0]


def inferno_loss(
    net: nn.Module, xs: Tensor, xb: Tensor, benchmark: int, temperature: float, mode: str
) -> Tensor:
    """INFERNO loss var(s) for ``mode`` in ``exact`` / ``interp``."""
    if mode == "exact":
        return inferno_loss_exact(net, xs, xb, benchmark, temperature)
    if mode == "interp":
        return inferno_loss_interp(net, xs, xb, benchmark, temperature)
    raise ValueError(f"nuisance_mode {mode!r} not in {NUISANCE_MODES}")
