"""Random HistFactory models for the parity tests, and pyhf-side derivative helpers.

pyhf's numpy backend has no autodiff, so its gradient and Hessian are taken by
central finite differences with two levels of Richardson extrapolation
(truncation error O(h^6)); evaluation points stay away from the kinks of the
piecewise interpolation codes so that the stencils see a smooth function.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyhf
from hypothesis import strategies as st

from sysaware.stats import ModelSpec, Templates
from sysaware.stats.torch_model import TorchModel
from sysaware.stats.pyhf_export import to_pyhf_model

FD_STEP = 2e-2  # stencils reach 2h = 0.04 < the 0.05 kink margin of smooth_point


@st.composite
def model_configs(draw, smooth_only: bool = False, with_staterror: bool = True):
    """A model config dict plus a numpy seed for its templates."""
    nbins = draw(st.integers(1, 6))
    nsamples = draw(st.integers(1, 3))
    samples = [f"s{i}" for i in range(nsamples)]
    staterr = [draw(st.booleans()) if with_staterror else False for _ in samples]
    subset = st.lists(st.sampled_from(samples), min_size=1, max_size=nsamples, unique=True)
    mods: list[dict] = [{"name": "mu", "type": "normfactor", "samples": [samples[0]]}]
    if nsamples > 1 and draw(st.booleans()):
        mods.append(
            {"name": "k_bkg", "type": "normfactor", "samples": samples[1:], "bounds": [0.2, 3.0],
             "fixed": draw(st.booleans())}
        )
    for i in range(draw(st.integers(0, 2))):
        affected = draw(subset)
        lohi = {
            s: {"lo": draw(st.floats(0.7, 0.99)), "hi": draw(st.floats(1.01, 1.3))} for s in affected
        }
        mods.append({"name": f"norm{i}", "type": "normsys", "samples": lohi})
    for i in range(draw(st.integers(0, 2))):
        mods.append({"name": f"shape{i}", "type": "histosys", "samples": draw(subset)})
    for i in range(draw(st.integers(0, 1))):
        mods.append({"name": f"nps{i}", "type": "normplusshape", "samples": draw(subset)})
    codes = (
        {"normsys": "code4", "histosys": "code4p"}
        if smooth_only
        else {
            "normsys": draw(st.sampled_from(["code1", "code4"])),
            "histosys": draw(st.sampled_from(["code0", "code4p"])),
        }
    )
    cfg = {
        "poi": "mu",
        "samples": [{"name": s, "staterror": e} for s, e in zip(samples, staterr)],
        "modifiers": mods,
        "interpolation": codes,
    }
    return cfg, nbins, draw(st.integers(0, 2**31 - 1))


def random_templates(spec: ModelSpec, nbins: int, seed: int) -> Templates:
    """Positive nominal histograms with +-5..30% up/down variations per bin."""
    rng = np.random.default_rng(seed)
    nominal = {s: rng.uniform(5.0, 200.0, nbins) for s in spec.sample_names}
    sumw2 = {s: nominal[s] * rng.uniform(0.05, 0.5) for s in spec.staterror_samples}
    up: dict = {}
    down: dict = {}
    for mod in spec.template_systematics:
        up[mod.name] = {s: nominal[s] * rng.uniform(1.05, 1.3, nbins) ** rng.choice([-1, 1], nbins)
                        for s in mod.samples}
        down[mod.name] = {s: nominal[s] * rng.uniform(0.7, 0.95, nbins) ** rng.choice([-1, 1], nbins)
                          for s in mod.samples}
    return Templates(nominal=nominal, sumw2=sumw2, up=up, down=down)


def smooth_point(model: TorchModel, seed: int) -> np.ndarray:
    """Random parameters at least 0.05 from interpolation kinks (alpha = -1, 0, 1)."""
    rng = np.random.default_rng(seed + 1)
    pars = model.init().numpy().copy()
    for mod in model.spec.modifiers:
        i = model.slices[mod.name].start
        if mod.type == "normfactor":
            pars[i] = rng.uniform(0.5, 2.0)
        else:
            pars[i] = rng.choice([-1, 1]) * rng.choice(
                [rng.uniform(0.05, 0.95), rng.uniform(1.05, 1.8)]
            )
    if model.spec.staterror_samples:
        pars[model.slices[model.spec.staterror_name]] = rng.uniform(0.8, 1.2, model.nbins)
    return pars


class PyhfView:
    """pyhf model of a spec, addressed with the torch model's parameter order."""

    def __init__(self, model: TorchModel, tpl: Templates):
        self.torch_model = model
        self.model = to_pyhf_model(model.spec, tpl)
        self.index = np.zeros(model.n_params, dtype=int)
        for name, sl in model.slices.items():
            idx = np.arange(self.model.config.npars)[self.model.config.par_slice(name)]
            self.index[sl] = idx

    def to_pyhf(self, pars: np.ndarray) -> np.ndarray:
        out = np.asarray(self.model.config.suggested_init(), dtype=float)
        out[self.index] = pars
        return out

    def nll(self, pars: np.ndarray, main_data: np.ndarray) -> float:
        data = np.concatenate([main_data, self.model.config.auxdata])
        return float(-self.model.logpdf(self.to_pyhf(pars), data)[0])


def _richardson(est: Callable[[float], np.ndarray], h: float) -> np.ndarray:
    d1, d2, d3 = est(h), est(h / 2), est(h / 4)
    r1, r2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    return (16 * r2 - r1) / 15


def fd_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Gradient by Richardson-extrapolated central differences."""
    n = len(x)

    def est(step: float) -> np.ndarray:
        g = np.empty(n)
        for i in range(n):
            e = np.zeros(n)
            e[i] = step
            g[i] = (f(x + e) - f(x - e)) / (2 * step)
        return g

    return _richardson(est, h)


def fd_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Hessian by Richardson-extrapolated central differences."""
    n = len(x)

    def est(step: float) -> np.ndarray:
        hess = np.empty((n, n))
        f0 = f(x)
        for i in range(n):
            ei = np.zeros(n)
            ei[i] = step
            hess[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / step**2
            for j in range(i):
                ej = np.zeros(n)
                ej[j] = step
                hess[i, j] = hess[j, i] = (
                    f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                ) / (4 * step**2)
        return hess

    return _richardson(est, h)


def assert_close(mine: np.ndarray, ref: np.ndarray, rtol: float) -> float:
    """Assert agreement to ``rtol`` relative to the largest reference entry; return the ratio reached."""
    scale = max(float(np.max(np.abs(ref))), 1e-300)
    reached = float(np.max(np.abs(np.asarray(mine) - np.asarray(ref)))) / scale
    assert reached <= rtol, f"relative difference {reached:.3g} > {rtol:g}"
    return reached


pyhf.set_backend("numpy")


#: a small fit model of the CMS kind (free mu, staterror, one NormPlusShape, two normsys): the toy-fit tests and bench
TOY_SPEC = ModelSpec.from_config({
    "poi": "mu",
    "samples": [{"name": "sig"}, {"name": "bkg", "staterror": True}],
    "modifiers": [
        {"name": "mu", "type": "normfactor", "samples": ["sig"], "bounds": [-5.0, 10.0]},
        {"name": "jes", "type": "normplusshape", "samples": ["sig", "bkg"]},
        {"name": "lumi", "type": "normsys", "samples": {"sig": {"lo": 0.95, "hi": 1.05}, "bkg": {"lo": 0.95, "hi": 1.05}}},
        {"name": "bkg_norm", "type": "normsys", "samples": {"bkg": {"lo": 0.9, "hi": 1.12}}},
    ],
})
