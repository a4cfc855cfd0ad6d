"""pyhf/cabinetry cross-check of the benchmark evaluation, on templates with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sysaware.benchmark.analytic import sqrt_var_s
from sysaware.benchmark.evaluate import fisher_from_jacobian
from sysaware.benchmark.pyhf_check import fit_sqrt_var_s, workspace


def _templates(seed=0, n=8):
    rng = np.random.default_rng(seed)
    hs, hb = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
    dr, dl = 1000 * 0.3 * rng.normal(size=(2, n)) * hb
    jac = np.stack([hs, dr, dl, hb], axis=1)
    return 50 * hs + 1000 * hb, jac


@pytest.mark.parametrize("benchmark", [0, 1, 2, 3, 4])
def test_cabinetry_hesse_equals_binned_fisher(benchmark):
    nu, jac = _templates(benchmark)
    ours = sqrt_var_s(fisher_from_jacobian(nu, jac), benchmark)
    fit = fit_sqrt_var_s(nu, jac, benchmark)
    assert fit["hesse"] == pytest.approx(ours, rel=1e-3)
    assert fit["bestfit_mu"] == pytest.approx(1.0, abs=1e-4)


def test_signal_only_column_matches_closed_form():
    """bm0: only mu is free, var(s) = 1 / sum h_s^2 / nu (no nuisance, no profiling)."""
    nu, jac = _templates(7)
    expected = 1.0 / np.sqrt(np.sum(jac[:, 0] ** 2 / nu))
    assert fit_sqrt_var_s(nu, jac, 0, minos=False)["hesse"] == pytest.approx(expected, rel=1e-4)


def test_fixed_nuisances_are_absent_and_empty_bins_dropped():
    nu, jac = _templates(3)
    nu[2] = 0.0
    jac[2] = 0.0
    ws = workspace(nu, jac, 1)
    (bkg,) = [s for s in ws["channels"][0]["samples"] if s["name"] == "bkg"]
    assert [m["name"] for m in bkg["modifiers"]] == ["r"]
    assert len(bkg["data"]) == len(nu) - 1
