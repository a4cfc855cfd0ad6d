"""Grid-template profile likelihood (sysaware.higgsml.profile) against pyhf and known answers."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest
from scipy.optimize import brentq, minimize_scalar
from scipy.special import erf

from sysaware.higgsml.profile import (
    GridTemplates,
    ProfileFitError,
    ProfileModel,
    fit,
    hessian_covariance,
    interval,
    profile_scan,
)

S = 0.03  # the TES step of the 3-point grid
SIG = np.array([[4.0, 11.0, 7.5, 2.0], [5.0, 12.0, 7.0, 3.0], [6.5, 12.5, 6.0, 4.5]])  # at -S, 0, +S
BKG = np.array([[60.0, 38.0, 22.0, 9.0], [55.0, 40.0, 25.0, 12.0], [48.0, 41.0, 29.0, 16.0]])
NORM = {"bkg_norm": {"background": (0.9, 1.12)}}


def _three_point_model(**kw) -> ProfileModel:
    tpl = GridTemplates(np.array([-S, 0.0, S]), {"signal": SIG, "background": BKG})
    return ProfileModel(tpl, ("signal",), NORM, z_sigma=S, z_bounds=(-5 * S, 5 * S), **kw)


def _pyhf_model() -> pyhf.Model:
    def hs(y):
        return {"name": "tes", "type": "histosys", "data": {"hi_data": list(y[2]), "lo_data": list(y[0])}}

    spec = {
        "channels": [{"name": "ch", "samples": [
            {"name": "signal", "data": list(SIG[1]),
             "modifiers": [{"name": "mu", "type": "normfactor", "data": None}, hs(SIG)]},
            {"name": "background", "data": list(BKG[1]),
             "modifiers": [hs(BKG), {"name": "bkg_norm", "type": "normsys", "data": {"lo": 0.9, "hi": 1.12}}]},
        ]}],
        "parameters": [{"name": "mu", "bounds": [[-5.0, 10.0]]}],
    }
    return pyhf.Model(spec, poi_name="mu", validate=False,
                      modifier_settings={"normsys": {"interpcode": "code1"}, "histosys": {"interpcode": "code0"}})


def _to_pyhf(pm: pyhf.Model, pars) -> np.ndarray:
    out = np.zeros(len(pm.config.suggested_init()))
    for name, v in (("mu", pars[0]), ("tes", pars[1] / S), ("bkg_norm", pars[2])):
        out[pm.config.par_slice(name)] = v
    return out


@pytest.fixture(autouse=True)
def _pyhf_backend():
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-14))
    yield
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())


def test_nll_equals_pyhf_including_extrapolation():
    model, pm = _three_point_model(), _pyhf_model()
    data = np.array([7.0, 50.0, 30.0, 18.0])
    full = np.concatenate([data, pm.config.auxdata])
    pars0 = np.array([1.0, 0.0, 0.0])
    ref0 = -float(pm.logpdf(_to_pyhf(pm, pars0), full)[0])
    checked = 0
    for mu in (0.0, 0.7, 2.3):
        for alpha in (-2.0, -1.3, -0.4, 0.0, 0.55, 1.0, 1.7, 2.0):
            for a_n in (-1.5, 0.0, 0.8):
                pars = np.array([mu, alpha * S, a_n])
                ours = model.nll(pars, data) - model.nll(pars0, data)
                ref = -float(pm.logpdf(_to_pyhf(pm, pars), full)[0]) - ref0
                assert ours == pytest.approx(ref, rel=1e-9, abs=1e-10), (mu, alpha, a_n)
                np.testing.assert_allclose(model.expected(pars), pm.expected_actualdata(_to_pyhf(pm, pars)),
                                           rtol=1e-12)
                checked += 1
    assert checked == 72
    # absolute values too, constants included: pyhf constrains tes = z / S by N(0, 1), we z by N(0, S)
    pars = np.array([1.4, -1.3 * S, 0.6])
    assert model.nll(pars, data) == pytest.approx(-float(pm.logpdf(_to_pyhf(pm, pars), full)[0]) + np.log(S), rel=1e-12)
    assert model.nll(pars0, data) != pytest.approx(model.nll(np.array([1.0, 0.5 * S, 0.0]), data))


def _pyhf_crossings(pm, full, init, fixed_params=None):
    kw = {"init_pars": list(init), "fixed_params": fixed_params}
    best, twice_min = pyhf.infer.mle.fit(full, pm, return_fitted_val=True, **kw)

    def q(mu):
        return float(pyhf.infer.mle.fixed_poi_fit(mu, full, pm, return_fitted_val=True, **kw)[1] - twice_min) - 1.0

    mu_hat = float(best[pm.config.poi_index])
    return mu_hat, brentq(q, mu_hat - 3.0, mu_hat, xtol=1e-10), brentq(q, mu_hat, mu_hat + 3.0, xtol=1e-10)


def test_interval_matches_pyhf_profile_and_stat_only():
    model, pm = _three_point_model(), _pyhf_model()
    data = model.asimov(1.0, 0.3 * S)
    full = np.concatenate([data, pm.config.auxdata])
    init = _to_pyhf(pm, [1.0, 0.3 * S, 0.0])
    ours = interval(model, data)
    ref = _pyhf_crossings(pm, full, init)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ours[2] - ours[1] > 0.5  # a real interval, not a degenerate one

    # stat only: z and the normsys fixed at the truth, only mu free
    stat = interval(model, data, fixed={"z": 0.3 * S, "bkg_norm": 0.0})
    fixed = [False] * len(init)
    fixed[pm.config.par_slice("tes").start] = fixed[pm.config.par_slice("bkg_norm").start] = True

    def twice_nll(mu):
        p = init.copy()
        p[pm.config.poi_index] = mu
        return -2.0 * float(pm.logpdf(p, full)[0])

    mu_hat = minimize_scalar(twice_nll, bounds=(0.0, 3.0), method="bounded", options={"xatol": 1e-10}).x
    lo = brentq(lambda m: twice_nll(m) - twice_nll(mu_hat) - 1.0, mu_hat - 3.0, mu_hat, xtol=1e-10)
    hi = brentq(lambda m: twice_nll(m) - twice_nll(mu_hat) - 1.0, mu_hat, mu_hat + 3.0, xtol=1e-10)
    np.testing.assert_allclose(stat, (mu_hat, lo, hi), atol=1e-4)
    np.testing.assert_allclose(stat, _pyhf_crossings(pm, full, init, fixed), atol=1e-4)
    assert stat[2] - stat[1] < ours[2] - ours[1]


def test_grid_templates_linear_interpolation_and_validation():
    z = np.array([-0.02, 0.0, 0.01, 0.03])
    y = np.array([[1.0, 2.0], [3.0, 2.0], [4.0, 5.0], [8.0, 5.0]])
    tpl = GridTemplates(z, {"a": y, "b": 2 * y})
    for k in range(4):
        np.testing.assert_allclose(tpl.at(z[k])["a"], y[k])
    np.testing.assert_allclose(tpl.at(0.005)["a"], 0.5 * (y[1] + y[2]))
    np.testing.assert_allclose(tpl.at(-0.01)["b"], y[0] + y[1])
    np.testing.assert_allclose(tpl.at(0.05)["a"], y[3] + (y[3] - y[2]))  # beyond the high end
    np.testing.assert_allclose(tpl.at(-0.03)["a"], y[0] - 0.5 * (y[1] - y[0]), atol=1e-12)  # beyond the low end
    bad = {
        "negative": np.where(y == 5.0, -1.0, y),
        "nan": np.where(y == 5.0, np.nan, y),
        "shape": y[:3],
    }
    for name, arr in bad.items():
        with pytest.raises(ValueError, match=name):
            GridTemplates(z, {"a": y, name: arr})
    with pytest.raises(ValueError, match="increasing"):
        GridTemplates(np.array([0.0, 0.02, 0.01, 0.03]), {"a": y})
    with pytest.raises(ValueError, match="shape"):
        GridTemplates(z, {"a": y, "shape": np.ones((4, 3))})


def _fine_model(scale: float = 1.0, z_sigma: float | None = None, z_points: int = 13) -> ProfileModel:
    """A visible-mass-like spectrum: a signal peak and a falling background, both scaled by (1 + z)."""
    edges = np.linspace(60.0, 180.0, 13)
    grid = np.linspace(-0.06, 0.06, z_points)

    def gauss(z):
        c, w = 125.0 * (1 + z), 15.0 * (1 + z)
        return 0.5 * np.diff(erf((edges - c) / (np.sqrt(2) * w)))

    def expo(z):
        return -np.diff(np.exp(-(edges - 40.0) / (45.0 * (1 + z))))

    sig = np.array([300.0 * scale * gauss(z) for z in grid])
    bkg = np.array([4000.0 * scale * expo(z) for z in grid])
    return ProfileModel(GridTemplates(grid, {"signal": sig, "background": bkg}), ("signal",),
                        {"bkg_norm": {"background": (0.95, 1.05)}}, z_sigma=z_sigma)


def test_asimov_recovers_truth_and_scan_is_parabolic():
    model = _fine_model()
    data = model.asimov(mu=1.3, z=0.02)
    res = fit(model, data)
    assert res.converged and res.names == ["mu", "z", "bkg_norm"]
    assert res.pars[0] == pytest.approx(1.3, abs=1e-4)
    assert res.pars[1] == pytest.approx(0.02, abs=1e-4)
    # starting far away (other side of the grid) still lands on the kink at the node z = 0.02
    assert fit(model, data, init=[0.2, -0.05, 1.0]).pars[:2] == pytest.approx([1.3, 0.02], abs=1e-4)
    mu_hat, lo, hi = interval(model, data)
    sigma = 0.5 * (hi - lo)
    assert 0.0 < sigma < 1.0
    q = profile_scan(model, data, [mu_hat, mu_hat - sigma, mu_hat + sigma, mu_hat + 0.5 * sigma])
    assert q[0] == pytest.approx(0.0, abs=1e-7)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q[1:3], 1.0, rtol=0.1)
    assert q[3] == pytest.approx(0.25, rel=0.1)
    np.testing.assert_allclose(profile_scan(model, data, [lo, hi]), 1.0, atol=1e-6)


def test_hessian_variance_matches_interval_width():
    model = _fine_model(scale=50.0, z_sigma=0.03)
    data = model.asimov(mu=1.0, z=0.015)
    res = fit(model, data)
    cov = hessian_covariance(model, data, res)
    mu_hat, lo, hi = interval(model, data)
    assert cov[0, 0] == pytest.approx((0.5 * (hi - lo)) ** 2, rel=0.03)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert -1.0 < corr < 1.0 and abs(corr) > 0.01  # z really correlates with mu
    # fixed parameters get zero rows and columns
    res_fixed = fit(model, data, fixed={"z": 0.015})
    cov_f = hessian_covariance(model, data, res_fixed)
    assert np.all(cov_f[1] == 0) and np.all(cov_f[:, 1] == 0) and cov_f[0, 0] < cov[0, 0]


def test_unconstrained_z_widens_interval():
    data = _fine_model().asimov(mu=1.0, z=0.01)
    _, lo_c, hi_c = interval(_fine_model(z_sigma=0.005), data)
    _, lo_u, hi_u = interval(_fine_model(z_sigma=None), data)
    _, lo_s, hi_s = interval(_fine_model(), data, fixed={"z": 0.01, "bkg_norm": 0.0})
    assert hi_u - lo_u >= hi_c - lo_c > hi_s - lo_s


def test_nonfinite_fit_raises_naming_fixed():
    model = _three_point_model()
    with pytest.raises(ProfileFitError, match="mu"):
        fit(model, np.array([np.nan, 1.0, 1.0, 1.0]), fixed={"mu": 0.5})


def test_fit_finds_global_minimum_of_a_two_valley_z_profile():
    """Templates that depend on z only through z**2 (plus a small odd part): the data, made at
    z = +0.04, also fit well near z = -0.04; a local search from z < 0 would stay in the wrong valley."""
    grid = np.linspace(-0.06, 0.06, 13)
    base = np.array([100.0, 200.0, 150.0, 80.0])
    shape = np.array([1.0, -0.5, 0.3, -0.8])
    odd = np.array([0.2, -0.1, 0.0, 0.1])
    sig = np.array([[10.0, 30.0, 20.0, 5.0]] * grid.size)
    bkg = np.array([base * (1 + 200 * z**2 * shape + z * odd) for z in grid])
    model = ProfileModel(GridTemplates(grid, {"signal": sig, "background": bkg}), ("signal",))
    data = model.asimov(1.0, 0.04)
    for init in ([1.0, -0.03], [1.0, -0.05], [1.0, 0.0]):
        res = fit(model, data, init=init)
        assert res.pars == pytest.approx([1.0, 0.04], abs=1e-6), init
    # the wrong valley is a genuine local minimum, worse than the global one
    wrong = fit(model, data, fixed={"z": -0.04})
    assert wrong.nll > res.nll + 1e-3


def test_interval_returns_bound_with_warning(caplog):
    model = _three_point_model(mu_bounds=(0.0, 10.0))
    data = model.asimov(0.2, 0.0)
    with caplog.at_level("WARNING", logger="sysaware.higgsml.profile"):
        mu_hat, lo, hi = interval(model, data, level=4.0)
    assert lo == 0.0 and hi > mu_hat + 0.5 and mu_hat == pytest.approx(0.2, abs=1e-5)
    assert "mu bound 0" in caplog.text
    assert profile_scan(model, data, [hi])[0] == pytest.approx(4.0, abs=1e-6)


def _linear_model() -> ProfileModel:
    z = np.linspace(-0.06, 0.06, 7)
    sig = np.array([[5.0 + 40 * zz, 10.0, 6.0 - 30 * zz] for zz in z])
    bkg = np.array([[50.0 - 100 * zz, 30.0 + 80 * zz, 10.0 + 50 * zz] for zz in z])
    return ProfileModel(GridTemplates(z, {"signal": sig, "background": bkg}), ("signal",), NORM, z_sigma=0.03)


def test_z_dependent_data_with_equal_rows_equals_fixed_data():
    """Data given on the grid with the same counts at every z is the fixed-data likelihood."""
    model = _linear_model()
    data = np.array([57.0, 41.0, 15.0])
    grid_data = np.tile(data, (7, 1))
    for pars in ([1.0, 0.0, 0.0], [1.3, 0.017, -0.4], [0.7, -0.05, 0.8]):
        assert model.nll(np.array(pars), grid_data) == pytest.approx(model.nll(np.array(pars), data), rel=1e-12)
    assert interval(model, grid_data) == pytest.approx(interval(model, data), abs=1e-7)


def test_z_dependent_data_gradient_matches_finite_differences():
    """The z slope of data re-binned at every hypothesised z enters the gradient (log lambda - digamma(n+1))."""
    model = _linear_model()
    rng = np.random.default_rng(3)
    grid_data = rng.poisson(40.0, size=(7, 3)).astype(float)
    for pars in ([1.1, 0.013, 0.2], [0.9, -0.031, -0.3]):
        p = np.array(pars)
        _, grad = model._nll_grad(p, grid_data)
        h = 1e-6
        for i in range(3):
            up, dn = p.copy(), p.copy()
            up[i] += h
            dn[i] -= h
            num = (model.nll(up, grid_data) - model.nll(dn, grid_data)) / (2 * h)
            assert grad[i] == pytest.approx(num, rel=1e-5, abs=1e-6)


def test_z_dependent_data_wrong_rows_raise():
    """Data on a grid of another length is refused, naming both lengths."""
    model = _linear_model()
    with pytest.raises(ValueError, match="5 rows, the z grid 7"):
        model.nll(np.array([1.0, 0.0, 0.0]), np.ones((5, 3)))
