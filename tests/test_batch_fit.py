"""Batched toy fits (sysaware.stats.batch_fit) against pyhf and cabinetry, toy by toy."""

from __future__ import annotations

import cabinetry
import numpy as np
import pyhf
import pytest
import torch

from sysaware.stats.batch_fit import ToyModel
from sysaware.stats.pyhf_export import to_pyhf_model

from modelgen import TOY_SPEC as SPEC
from modelgen import random_templates

N_BINS = 4


def _pyhf_data(toys: ToyModel, model: pyhf.pdf.Model, main: torch.Tensor, aux: torch.Tensor, i: int) -> np.ndarray:
    """Toy ``i`` as pyhf's data: main bins, then the auxiliary data in pyhf's order."""
    parts = [aux[i, toys.model.slices[name]].numpy() for name in model.config.auxdata_order]
    return np.concatenate([main[i].numpy(), *parts])


@pytest.fixture(scope="module")
def case():
    tpl = random_templates(SPEC, N_BINS, 3)
    toys = ToyModel(SPEC, tpl)
    model = to_pyhf_model(SPEC, tpl)
    truth = toys.init().clone()
    truth[toys.poi_index] = 1.3
    main, aux = toys.sample(truth, 24, np.random.default_rng(11))
    return toys, model, main, aux


def test_the_toy_nll_is_pyhfs_logpdf_with_the_toys_auxiliary_data(case):
    toys, model, main, aux = case
    rng = np.random.default_rng(5)
    names = model.config.par_order
    for i in range(6):
        pars = toys.init().clone()
        pars[toys.poi_index] = rng.uniform(0.2, 2.0)
        for name in ("jes", "lumi", "bkg_norm"):
            pars[toys.model.slices[name]] = rng.normal(0, 0.8)
        sl = toys.model.slices[SPEC.staterror_name]
        pars[sl] = torch.as_tensor(rng.uniform(0.9, 1.1, N_BINS))
        ours = float(toys.nll(pars, main[i], aux[i]))
        flat = np.concatenate([np.atleast_1d(pars[toys.model.slices[n]].numpy()) for n in names])
        theirs = -float(model.logpdf(pyhf.tensorlib.astensor(flat), _pyhf_data(toys, model, main, aux, i))[0])
        assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-9)


def test_toys_are_drawn_from_the_model_at_the_true_parameters(case):
    toys, model, _, _ = case
    truth = toys.init().clone()
    truth[toys.poi_index] = 1.3
    main, aux = toys.sample(truth, 20000, np.random.default_rng(2))
    lam = toys.expected(truth).numpy()
    np.testing.assert_allclose(main.mean(0).numpy(), lam, rtol=4 * np.sqrt(1 / lam.min() / 20000) + 1e-3)
    sl = toys.model.slices[SPEC.staterror_name]
    np.testing.assert_allclose(aux[:, sl].std(0).numpy(), toys.sigma[sl].numpy(), rtol=0.03)
    assert np.all(aux[:, toys.poi_index].numpy() == toys.nominal_aux[toys.poi_index].item())  # unconstrained


def test_batched_fits_and_intervals_equal_pyhf_and_cabinetry_minos(case):
    toys, model, main, aux = case
    best = toys.fit(main, aux)
    assert bool(best.converged.all())
    lo, hi, found = toys.intervals(main, aux, best)
    assert bool(found.all())
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-6))
    k = model.config.poi_index
    for i in range(0, 24, 3):
        data = _pyhf_data(toys, model, main, aux, i)
        theirs, nll = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
        assert float(best.pars[i, toys.poi_index]) == pytest.approx(float(theirs[k]), abs=1e-3)
        assert float(best.nll[i]) == pytest.approx(float(nll) / 2, abs=1e-6)  # pyhf returns -2 log L
        res = cabinetry.fit.fit(model, data, minos=["mu"])
        down, up = res.minos_uncertainty["mu"]
        mu = float(res.bestfit[k])
        assert float(lo[i]) == pytest.approx(mu + down, abs=1e-3)
        assert float(hi[i]) == pytest.approx(mu + up, abs=1e-3)


def test_a_fixed_poi_fit_is_the_conditional_minimum(case):
    toys, model, main, aux = case
    fixed = toys.fit(main, aux, fixed={toys.poi_index: 0.7})
    assert bool(fixed.converged.all()) and torch.all(fixed.pars[:, toys.poi_index] == 0.7)
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-10))
    for i in (0, 5, 17):
        data = _pyhf_data(toys, model, main, aux, i)
        _, nll = pyhf.infer.mle.fixed_poi_fit(0.7, data, model, return_fitted_val=True)
        assert float(fixed.nll[i]) == pytest.approx(float(nll) / 2, abs=1e-6)


def test_toys_do_not_depend_on_how_they_are_split_into_batches(case):
    """Toy i comes from its own seed: 1 x 100 toys are 4 x 25, and their fits are the same."""
    toys = case[0]
    truth = toys.init()
    main, aux = toys.sample_indexed(truth, 42, 0, 100, "model_toys")
    parts = [toys.sample_indexed(truth, 42, 25 * j, 25, "model_toys") for j in range(4)]
    assert torch.equal(main, torch.cat([m for m, _ in parts])) and torch.equal(aux, torch.cat([a for _, a in parts]))
    whole = toys.fit(main[:50], aux[:50]).pars
    split = torch.cat([toys.fit(m, a).pars for m, a in ((main[:25], aux[:25]), (main[25:50], aux[25:50]))])
    torch.testing.assert_close(whole, split, rtol=0, atol=1e-9)
    other = toys.sample_indexed(truth, 43, 0, 25, "model_toys")[0]
    assert not torch.equal(other, main[:25])
