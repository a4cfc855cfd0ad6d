"""The likelihood with templates and data rebuilt on a grid of one nuisance (sysaware.stats.grid_model),
against pyhf where pyhf can express it: a summary that does not depend on the nuisance (the same data at
every node) is pyhf's model with the nuisance as a code0 histosys between the nodes."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest
import torch

from sysaware.stats import ModelSpec, Templates
from sysaware.stats.grid_model import GridModel
from sysaware.stats.pyhf_export import to_pyhf_model

N_BINS = 5


def _spec(with_z: bool) -> ModelSpec:
    mods = [
        {"name": "mu", "type": "normfactor", "samples": ["sig"], "bounds": [-2.0, 5.0]},
        {"name": "norm", "type": "normsys", "samples": {"bkg": {"lo": 0.93, "hi": 1.08}}},
        {"name": "shape", "type": "histosys", "samples": ["bkg"]},
        {"name": "sig_norm", "type": "normsys", "samples": {"sig": {"lo": 0.95, "hi": 1.06}}},
    ]
    if with_z:
        mods.append({"name": "z", "type": "histosys", "samples": ["sig", "bkg"]})
    return ModelSpec.from_config({"poi": "mu", "samples": [{"name": "sig"}, {"name": "bkg"}], "modifiers": mods,
                                  "interpolation": {"histosys": "code0"}})


def _case(seed: int):
    """Nominal templates at the nodes -1, 0, +1 of z; the shape systematic's deltas equal at every node.

    (pyhf has one histosys code per model: the shape systematic is a code0 histosys as z is, whose kink
    at 0 the minimisers cross differently; the fit test below leaves it out.)"""
    rng = np.random.default_rng(seed)
    nominal = {s: rng.uniform(5, 50, N_BINS) for s in ("sig", "bkg")}
    at = {k: {s: nominal[s] * (1 + 0.08 * k * rng.uniform(0.5, 1.5, N_BINS)) for s in nominal} for k in (-1, 0, 1)}
    at[0] = nominal
    d_up, d_down = rng.uniform(0.5, 3.0, N_BINS), rng.uniform(0.5, 3.0, N_BINS)
    node_templates = [Templates(nominal=dict(at[k]), up={"shape": {"bkg": at[k]["bkg"] + d_up}},
                                down={"shape": {"bkg": at[k]["bkg"] - d_down}}) for k in (-1, 0, 1)]
    full = Templates(nominal=dict(nominal),
                     up={"shape": {"bkg": nominal["bkg"] + d_up}, "z": {s: at[1][s] for s in nominal}},
                     down={"shape": {"bkg": nominal["bkg"] - d_down}, "z": {s: at[-1][s] for s in nominal}})
    data = np.round(nominal["sig"] + nominal["bkg"] + rng.normal(0, 3, N_BINS))
    return node_templates, full, data


@pytest.mark.parametrize("seed", range(4))
def test_a_summary_that_does_not_depend_on_z_is_pyhfs_code0_histosys(seed):
    node_templates, full, data = _case(seed)
    grid = GridModel(_spec(False), [-1.0, 0.0, 1.0], node_templates, [data] * 3, z_name="z")
    model = to_pyhf_model(_spec(True), full)
    obs = np.concatenate([data, model.config.auxdata])
    rng = np.random.default_rng(100 + seed)
    for _ in range(6):
        point = {"mu": rng.uniform(0.2, 2.0), "norm": rng.normal(), "shape": rng.normal(), "sig_norm": rng.normal(),
                 "z": rng.uniform(-1.8, 1.8)}
        ours = float(grid.nll(torch.tensor([point[n] for n in grid.labels], dtype=torch.float64)))
        pars = [point[n] for n in model.config.par_order]
        theirs = -float(model.logpdf(pyhf.tensorlib.astensor(pars), obs)[0])
        assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-10), point


def test_the_fit_and_interval_equal_pyhfs_for_such_a_summary():
    node_templates, full, data = _case(7)
    grid = GridModel(_spec(False), [-1.0, 0.0, 1.0], node_templates, [data] * 3, z_name="z")
    best = grid.minimize(fixed={"shape": 0.0})
    model = to_pyhf_model(_spec(True), full)
    obs = np.concatenate([data, model.config.auxdata])
    init = model.config.suggested_init()
    bounds = model.config.suggested_bounds()
    bounds[model.config.par_order.index("mu")] = (-2.0, 5.0)
    fixed = [name == "shape" for name in model.config.par_order]
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-12))
    theirs, nll = pyhf.infer.mle.fit(obs, model, init_pars=init, par_bounds=bounds, fixed_params=fixed,
                                     return_fitted_val=True)
    by_name = dict(zip(model.config.par_order, theirs))
    for k, name in enumerate(grid.labels):
        assert best.pars[k] == pytest.approx(by_name[name], abs=2e-4), name
    assert best.nll == pytest.approx(float(nll) / 2, abs=1e-6)
    lo, hi = grid.interval(best, fixed={"shape": 0.0})
    for edge in (lo, hi):  # -2 delta ln L = 1 at both edges, by pyhf's profile
        at_edge = pyhf.infer.mle.fixed_poi_fit(edge, obs, model, init_pars=init, par_bounds=bounds, fixed_params=fixed,
                                               return_fitted_val=True)[1]
        assert float(at_edge) - float(nll) == pytest.approx(1.0, abs=1e-4)


def test_data_rebuilt_at_every_node_moves_with_z():
    """With node-dependent data, the observed histogram at z is the nodes' interpolation and the NLL
    at a node equals the TorchModel's NLL of that node's templates and data (the pyhf-parity model)."""
    node_templates, _, data = _case(3)
    datas = [data + 2.0, data, data - 1.0]
    grid = GridModel(_spec(False), [-1.0, 0.0, 1.0], node_templates, datas, z_name="z")
    assert torch.allclose(grid.observed(torch.tensor(0.5)), torch.as_tensor(data - 0.5, dtype=torch.float64))
    pars = torch.tensor([1.1, 0.3, -0.2, 0.4, 1.0], dtype=torch.float64)
    node = grid.model.nll(pars[:4], torch.as_tensor(datas[2], dtype=torch.float64), grid.templates[2])
    assert float(grid.nll(pars)) == pytest.approx(float(node) + 0.5 + 0.5 * np.log(2 * np.pi), rel=1e-12)


def test_a_bin_whose_expectation_falls_below_zero_is_a_finite_wall_not_a_nan():
    """Beyond the grid the end segment continues linearly: a background bin falling from 10 (z = 0) to 2
    (z = 1) is -14 at z = 3, the bin with 5 signal events expects -9. The NLL there is finite and large (pyhf's would be NaN), and a fit started
    there walks back to the minimum of a start inside the grid."""
    spec = ModelSpec.from_config({"poi": "mu", "samples": [{"name": "sig"}, {"name": "bkg"}],
                                  "modifiers": [{"name": "mu", "type": "normfactor", "samples": ["sig"]}]})
    sig = np.array([5.0, 5.0])
    nodes = [Templates(nominal={"sig": sig, "bkg": np.array([b, 20.0])}) for b in (10.0, 2.0)]
    data = np.array([15.0, 25.0])
    grid = GridModel(spec, [0.0, 1.0], nodes, [data, data], z_name="z")
    assert float(grid.expected(torch.tensor([1.0, 3.0], dtype=torch.float64))[0]) == pytest.approx(-9.0)
    wall = float(grid.nll(torch.tensor([1.0, 3.0], dtype=torch.float64)))
    inside = float(grid.nll(torch.tensor([1.0, 0.0], dtype=torch.float64)))
    assert np.isfinite(wall) and wall > inside + 100
    best = grid.minimize()
    from_outside = grid.minimize(start=np.array([1.0, 3.0]), local=True)
    assert np.isfinite(from_outside.nll) and from_outside.nll == pytest.approx(best.nll, abs=1e-6)
    lo, hi = grid.interval(best)
    assert lo < best.pars[grid.poi_index] < hi
