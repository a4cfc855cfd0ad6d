"""Parity of the torch likelihood (INFERNO loss) with pyhf's numpy backend (final fit).

For random models (bin counts, sample counts, modifier mixes and interpolation codes
drawn by hypothesis) the torch NLL, its torch.func gradient and Hessian equal pyhf's
NLL and its finite-difference derivatives to 1e-6 relative, and the torch POI
variance equals the inverse Hessian of pyhf's NLL at the Asimov point.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from modelgen import (
    PyhfView,
    assert_close,
    fd_gradient,
    fd_hessian,
    model_configs,
    random_templates,
    smooth_point,
)

from sysaware.stats import ModelSpec
from sysaware.stats.torch_model import SingularFisherError, TorchModel, as_tensor_templates

RTOL = 1e-6
PARITY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _build(cfg, nbins, seed):
    spec = ModelSpec.from_config(cfg)
    tpl = random_templates(spec, nbins, seed)
    model = TorchModel(spec, nbins)
    return model, tpl, as_tensor_templates(tpl), PyhfView(model, tpl)


@PARITY_SETTINGS
@given(model_configs())
def test_parity_nll_gradient_hessian_random_point(case):
    cfg, nbins, seed = case
    model, tpl, ttpl, view = _build(cfg, nbins, seed)
    pars = smooth_point(model, seed)
    # central differences (step 0.02) resolve the NLL only where no bin expects almost nothing:
    # at nu ~ 0.6 (reachable with code0's linear extrapolation) their error reaches 1e-5
    assume(float(model.expected(torch.tensor(pars), ttpl).min()) > 5.0)
    rng = np.random.default_rng(seed + 2)
    data = np.round(model.expected(torch.tensor(pars), ttpl).numpy() * rng.uniform(0.8, 1.2, nbins))

    tdata = torch.tensor(data)

    def tnll(p):
        return model.nll(p, tdata, ttpl)

    tp = torch.tensor(pars)
    assert_close(np.array([tnll(tp).item()]), np.array([view.nll(pars, data)]), 1e-12)
    grad = torch.func.grad(tnll)(tp).numpy()
    hess = torch.func.hessian(tnll)(tp).numpy()
    assert_close(grad, fd_gradient(lambda p: view.nll(p, data), pars), RTOL)
    assert_close(hess, fd_hessian(lambda p: view.nll(p, data), pars), RTOL)


@PARITY_SETTINGS
@given(model_configs(smooth_only=True))
def test_parity_asimov_poi_variance(case):
    cfg, nbins, seed = case
    model, tpl, ttpl, view = _build(cfg, nbins, seed)
    init = model.init().numpy()
    asimov = model.expected(model.init(), ttpl).numpy()
    # pyhf's own Asimov data at the same point
    pyhf_asimov = view.model.expected_actualdata(view.to_pyhf(init))
    assert_close(asimov, pyhf_asimov, 1e-12)

    hess_ref = fd_hessian(lambda p: view.nll(p, pyhf_asimov), init)
    hess = model.asimov_hessian(ttpl).numpy()
    assert_close(hess, hess_ref, RTOL)

    free = model.free_mask().numpy()
    # a model whose parameters are not identifiable (e.g. two normfactors in one bin) has
    # no POI variance; the torch model raises for it (tested separately)
    assume(np.linalg.cond(hess_ref[np.ix_(free, free)]) < 1e6)
    cov_ref = np.linalg.inv(hess_ref[np.ix_(free, free)])
    poi_free = int(free[: model.poi_index].sum())
    var = model.poi_variance(ttpl).item()
    assert abs(var / cov_ref[poi_free, poi_free] - 1) < RTOL


def test_parity_poi_variance_is_differentiable_in_templates():
    """The INFERNO loss has a gradient with respect to the templates (what the network feeds)."""
    cfg = {
        "poi": "mu",
        "samples": [{"name": "sig"}, {"name": "bkg", "staterror": True}],
        "modifiers": [
            {"name": "mu", "type": "normfactor", "samples": ["sig"]},
            {"name": "jes", "type": "normplusshape", "samples": ["sig", "bkg"]},
            {"name": "lumi", "type": "normsys", "samples": {"sig": {"lo": 0.9, "hi": 1.1}}},
        ],
    }
    spec = ModelSpec.from_config(cfg)
    tpl = as_tensor_templates(random_templates(spec, 5, 7))
    leaf = tpl.nominal["sig"].clone().requires_grad_(True)
    tpl.nominal["sig"] = leaf
    var = TorchModel(spec, 5).poi_variance(tpl)
    (grad,) = torch.autograd.grad(var, leaf)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # more signal in a bin never increases the expected POI variance ... per event;
    # check the finite-difference derivative agrees with autograd
    eps = 1e-6
    for b in range(5):
        bumped = leaf.detach().clone()
        bumped[b] += eps
        tpl.nominal["sig"] = bumped
        fd = (TorchModel(spec, 5).poi_variance(tpl).item() - var.item()) / eps
        assert abs(fd - grad[b].item()) <= 1e-4 * abs(grad).max().item()


def test_singular_fisher_information_is_reported():
    """Two free normfactors on one bin cannot both be measured: a clear error, not a NaN."""
    cfg = {
        "poi": "mu",
        "samples": [{"name": "sig"}, {"name": "bkg"}],
        "modifiers": [
            {"name": "mu", "type": "normfactor", "samples": ["sig"]},
            {"name": "k", "type": "normfactor", "samples": ["bkg"]},
        ],
    }
    spec = ModelSpec.from_config(cfg)
    tpl = as_tensor_templates(random_templates(spec, 1, 3))
    with pytest.raises(SingularFisherError, match="not identifiable"):
        TorchModel(spec, 1).poi_variance(tpl)
