"""The fit stage (sysaware.fit) on small known pyhf workspaces built here.

Checks: cabinetry-based best fit and HESSE errors equal a direct pyhf minuit fit; the
likelihood scan has its minimum at the best fit; the stat-only interval is not wider
than the full one and the Asimov fit returns the nominal POI; the impacts of nearly
uncorrelated nuisances add in quadrature to the systematic part of the POI error and
equal cabinetry's own ranking; problems (POI at a bound, no convergence, singular
Hessian) are reported, never hidden; the plots are written.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pyhf
import pytest

from helpers import small_workspace as workspace
from sysaware.fit import (
    FitError,
    fit_results,
    merge_ranking,
    model_and_data,
    nuisance_impact,
    nuisance_names,
    plot_fit,
    plot_template_variations,
    poi_scan,
    to_fit_results,
)

logging.getLogger("cabinetry").setLevel(logging.WARNING)

CONTRACT = ("poi", "bestfit", "minos", "stat_only_minos", "asimov_minos", "labels",
            "bestfit_all", "uncertainty_all", "correlation")
EXTRA = ("converged", "hesse_positive_definite", "poi_at_bound", "significance",
         "goodness_of_fit", "twice_nll", "warnings")


def two_channel_workspace() -> dict:
    """2 channels x 3 bins with staterror, a normsys+histosys pair (NormPlusShape) and a free bkg norm."""
    def chan(name, sig, bkg, data):
        return {"name": name, "samples": [
            {"name": "signal", "data": sig, "modifiers": [
                {"name": "mu", "type": "normfactor", "data": None},
                {"name": "jes", "type": "normsys", "data": {"hi": 1.03, "lo": 0.97}},
                {"name": "jes", "type": "histosys", "data": {
                    "hi_data": [s * f for s, f in zip(sig, (1.05, 1.0, 0.95))],
                    "lo_data": [s * f for s, f in zip(sig, (0.95, 1.0, 1.05))]}}]},
            {"name": "bkg", "data": bkg, "modifiers": [
                {"name": "k_bkg", "type": "normfactor", "data": None},
                {"name": f"staterror_{name}", "type": "staterror", "data": [math.sqrt(b) for b in bkg]},
                {"name": "bkg_xsec", "type": "normsys", "data": {"hi": 1.06, "lo": 0.94}}]},
        ]}, {"name": name, "data": data}
    c1, o1 = chan("sr", [8.0, 15.0, 10.0], [40.0, 30.0, 20.0], [50.0, 47.0, 29.0])
    c2, o2 = chan("cr", [1.0, 2.0, 1.0], [90.0, 80.0, 70.0], [93.0, 80.0, 69.0])
    return {"channels": [c1, c2], "observations": [o1, o2], "version": "1.0.0",
            "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": [
                {"name": "k_bkg", "bounds": [[0.5, 2.0]]}]}}]}


@pytest.fixture(scope="module")
def ws() -> dict:
    return workspace()


@pytest.fixture(scope="module")
def result(ws) -> dict:
    return fit_results(ws)


def _plain(obj) -> None:
    """Only JSON-native types (bool/int/float/str/None/list/dict), no numpy scalars."""
    if isinstance(obj, dict):
        for v in obj.values():
            _plain(v)
    elif isinstance(obj, list):
        for v in obj:
            _plain(v)
    else:
        assert obj is None or type(obj) in (bool, int, float, str), (obj, type(obj))


def test_results_contract_and_pyhf_parity(ws, result):
    for key in CONTRACT + EXTRA:
        assert key in result, key
    _plain(result)
    json.dumps(result, allow_nan=False)  # no NaN/inf anywhere

    assert result["poi"] == "mu"
    assert result["converged"] and result["hesse_positive_definite"]
    assert not result["poi_at_bound"]
    assert result["warnings"] == []
    down, up = result["minos"]
    assert down < 0 < up
    assert 0.0 <= result["goodness_of_fit"] <= 1.0
    assert set(result["significance"]) == {"observed", "expected"}
    corr = np.asarray(result["correlation"])
    np.testing.assert_allclose(corr, corr.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-9)

    # a direct pyhf fit (minuit, same interpolation codes as cabinetry) gives the same numbers
    model = pyhf.Workspace(ws).model(modifier_settings={"normsys": {"interpcode": "code4"},
                                                        "histosys": {"interpcode": "code4p"}})
    data = pyhf.Workspace(ws).data(model)
    backend = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    try:
        direct = pyhf.infer.mle.fit(data, model, return_uncertainties=True)
    finally:
        pyhf.set_backend(*backend)
    assert result["labels"] == model.config.par_names
    assert result["bestfit_all"] == pytest.approx(direct[:, 0].tolist(), rel=1e-3, abs=1e-4)
    assert result["uncertainty_all"] == pytest.approx(direct[:, 1].tolist(), rel=1e-3)
    assert result["bestfit"] == pytest.approx(float(direct[model.config.poi_index, 0]), rel=1e-3)


def test_scan_minimum_at_best_fit(ws, result):
    scan = poi_scan(ws, n_steps=5)
    _plain(scan)
    values, delta = np.asarray(scan["values"]), np.asarray(scan["delta_twice_nll"])
    step = values[1] - values[0]
    assert scan["poi"] == "mu" and scan["warnings"] == []
    assert abs(values[np.argmin(delta)] - result["bestfit"]) <= step
    assert scan["bestfit"] == pytest.approx(result["bestfit"], abs=1e-3)
    # middle point of the default range is the best fit (to MIGRAD's tolerance)
    assert delta[2] == pytest.approx(0.0, abs=1e-3)
    # default range is +-2 HESSE errors: about 1 and 4 at +-1 and +-2 sigma
    assert delta[[1, 3]] == pytest.approx([1.0, 1.0], rel=0.25)
    assert delta[[0, 4]] == pytest.approx([4.0, 4.0], rel=0.25)

    clipped = poi_scan(ws, n_steps=3, bounds=(-5.0, 2.0))  # mu's bounds are [0, 10]
    assert clipped["values"][0] == 0.0
    assert any("clipped" in w for w in clipped["warnings"])


def test_stat_only_and_asimov(result):
    full, stat = result["minos"], result["stat_only_minos"]
    assert abs(stat[0]) <= abs(full[0]) + 1e-9 and stat[1] <= full[1] + 1e-9
    assert (stat[1] - stat[0]) < (full[1] - full[0])
    assert result["asimov_bestfit"] == pytest.approx(1.0, abs=1e-4)
    assert result["asimov_minos"][0] < 0 < result["asimov_minos"][1]


def test_impacts_add_in_quadrature_and_match_cabinetry(ws, result):
    import cabinetry

    names = nuisance_names(ws)
    assert sorted(names) == ["bkg2_shape", "bkg_norm", "sig_xsec"]
    impacts = [nuisance_impact(ws, p, fit=result) for p in names]
    ranking = merge_ranking(impacts)
    _plain(ranking)
    post = [max(abs(u), abs(d)) for u, d in zip(ranking["postfit_up"], ranking["postfit_down"])]
    assert post == sorted(post, reverse=True)

    labels = result["labels"]
    corr = np.asarray(result["correlation"])
    idx = [labels.index(n) for n in names]
    assert np.max(np.abs(corr[np.ix_(idx, idx)] - np.eye(len(idx)))) < 0.05  # nuisances ~uncorrelated

    half = lambda iv: (iv[1] - iv[0]) / 2  # noqa: E731
    syst = math.sqrt(half(result["minos"]) ** 2 - half(result["stat_only_minos"]) ** 2)
    quad = math.sqrt(sum(((abs(u) + abs(d)) / 2) ** 2
                         for u, d in zip(ranking["postfit_up"], ranking["postfit_down"])))
    assert quad == pytest.approx(syst, rel=0.2)

    # same numbers as cabinetry's own ranking (tight tolerance: impacts are POI differences)
    tight = fit_results(ws, tolerance=1e-3)
    mine = {p: nuisance_impact(ws, p, fit=tight, tolerance=1e-3) for p in names}
    model, data = model_and_data(ws)
    cab = cabinetry.fit.ranking(model, data, fit_results=to_fit_results(tight), tolerance=1e-3)
    for i, label in enumerate(cab.labels):
        got = [mine[label][k] for k in ("prefit_up", "prefit_down", "postfit_up", "postfit_down")]
        want = [cab.prefit_up[i], cab.prefit_down[i], cab.postfit_up[i], cab.postfit_down[i]]
        assert got == pytest.approx(want, abs=5e-4), label


def test_poi_at_bound_is_reported(caplog):
    ws = workspace([60.0, 45.0, 40.0, 50.0], poi_bounds=(0.0, 10.0))  # far below the background
    with caplog.at_level(logging.WARNING, logger="sysaware.fit"):
        res = fit_results(ws)
    assert res["poi_at_bound"] is True
    assert res["bestfit"] == pytest.approx(0.0, abs=1e-5)
    assert any("POI at bound" in w for w in res["warnings"])
    assert any("POI at bound" in r.getMessage() for r in caplog.records)
    json.dumps(res, allow_nan=False)


def test_non_converged_fit_is_reported(caplog):
    with caplog.at_level(logging.WARNING, logger="sysaware.fit"):
        res = fit_results(workspace(), maxiter=5)  # MIGRAD stops at its call limit
    assert res["converged"] is False
    assert any("fit did not converge" in w for w in res["warnings"])
    assert any("did not converge" in r.getMessage() for r in caplog.records)
    assert res["goodness_of_fit"] is None  # not computed, and said so
    json.dumps(res, allow_nan=False)


def test_singular_hessian_is_reported():
    res = fit_results(workspace(extra_signal_normfactor=True))  # mu * k: flat direction
    assert res["hesse_positive_definite"] is False
    assert any("Hessian not positive definite" in w for w in res["warnings"])


def test_nuisance_names_and_errors():
    ws = two_channel_workspace()
    ws["measurements"][0]["config"]["parameters"].append({"name": "bkg_xsec", "fixed": True})
    names = nuisance_names(ws)
    assert "mu" not in names and "k_bkg" not in names  # POI and free normfactor
    assert "bkg_xsec" not in names  # fixed in the measurement
    assert "jes" in names
    assert [n for n in names if n.startswith("staterror")] == [
        "staterror_cr[0]", "staterror_cr[1]", "staterror_cr[2]",
        "staterror_sr[0]", "staterror_sr[1]", "staterror_sr[2]"]
    with pytest.raises(FitError, match="not in the model"):
        nuisance_impact(ws, "nope")
    with pytest.raises(FitError, match="POI"):
        nuisance_impact(ws, "mu")


def test_merge_ranking_sorting_and_checks():
    def imp(name, up, down, poi="mu"):
        return {"poi": poi, "parameter": name, "bestfit": 0.0, "uncertainty": 1.0,
                "prefit_up": up, "prefit_down": down, "postfit_up": up, "postfit_down": down, "warnings": []}

    out = merge_ranking([imp("a", 0.01, -0.02), imp("b", 0.3, -0.1), imp("c", -0.05, 0.04)])
    assert out["labels"] == ["b", "c", "a"] and out["poi"] == "mu"
    with pytest.raises(ValueError, match="more than one"):
        merge_ranking([imp("a", 0.1, -0.1), imp("a", 0.1, -0.1)])
    with pytest.raises(ValueError, match="different POIs"):
        merge_ranking([imp("a", 0.1, -0.1), imp("b", 0.1, -0.1, poi="nu")])
    bad = imp("a", 0.1, -0.1)
    bad["postfit_down"] = float("nan")
    with pytest.raises(FitError, match="postfit_down impact of a"):
        merge_ranking([bad])


def test_plots_written(tmp_path):
    ws = two_channel_workspace()
    res = fit_results(ws)
    assert res["converged"], res["warnings"]
    scan = poi_scan(ws, n_steps=3)
    ranking = merge_ranking([nuisance_impact(ws, p, fit=res) for p in ("jes", "bkg_xsec")])
    json.dumps([res, scan, ranking], allow_nan=False)

    written = plot_fit(ws, res, tmp_path, scan=scan, ranking=ranking)
    expected = {"pulls", "correlation", "scan", "ranking", "data_mc", "data_mc_prefit", "data_mc_postfit"}
    assert expected <= {p.stem for p in written}
    for stem in expected:
        png = tmp_path / f"{stem}.png"
        assert png.stat().st_size > 1000, stem
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "data_mc_postfit_sr.png").is_file()  # per-channel files with 2 channels

    templates = plot_template_variations(ws, tmp_path)
    assert {p.name for p in templates} == {"templates_jes.png", "templates_bkg_xsec.png"}
    assert all(p.stat().st_size > 1000 for p in templates)

    with pytest.raises(ValueError, match="labels"):
        plot_fit(workspace(), res, tmp_path)
