"""Fit problems are reported in fit_results.json and the logs, never hidden: the HiggsML grid
profile (the HistFactory fit stage has its own tests in test_fit.py: POI at bound, no
convergence, singular Hessian)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from sysaware.higgsml.evaluate import fit_record
from sysaware.higgsml.profile import GridTemplates, ProfileModel

S = 0.03
SIG = np.array([[4.0, 11.0, 7.5, 2.0], [5.0, 12.0, 7.0, 3.0], [6.5, 12.5, 6.0, 4.5]])
BKG = np.array([[60.0, 38.0, 22.0, 9.0], [55.0, 40.0, 25.0, 12.0], [48.0, 41.0, 29.0, 16.0]])


def _model(sig=SIG, bkg=BKG, **kw) -> ProfileModel:
    tpl = GridTemplates(np.array([-S, 0.0, S]), {"signal": sig, "background": bkg})
    return ProfileModel(tpl, ("signal",), {"bkg_norm": {"background": (0.9, 1.12)}}, z_sigma=S,
                        z_bounds=(-S, S), **kw)


def test_good_fit_has_no_warnings():
    model = _model()
    rec = fit_record(model, model.expected(np.array([1.0, 0.0, 0.0])), ["z", "bkg_norm"])
    assert rec["converged"] and rec["hesse_positive_definite"] and not rec["poi_at_bound"]
    assert rec["warnings"] == []
    json.dumps(rec, allow_nan=False)


def test_poi_at_bound_is_reported(caplog):
    model = _model(mu_bounds=(0.0, 10.0))
    data = model.expected(np.array([0.0, 0.0, 0.0])) * np.array([1.0, 0.8, 0.9, 1.0])  # fewer than background
    with caplog.at_level(logging.WARNING, logger="sysaware.higgsml.evaluate"):
        rec = fit_record(model, data, ["z", "bkg_norm"])
    assert rec["poi_at_bound"] is True and rec["bestfit"] == pytest.approx(0.0, abs=1e-8)
    assert any("POI at bound" in w for w in rec["warnings"])
    assert any("lower end of the 68% interval of mu is the bound" in w for w in rec["warnings"])
    assert "POI at bound" in caplog.text
    json.dumps(rec, allow_nan=False)


def test_non_positive_definite_hessian_is_reported(caplog):
    """Templates that do not depend on z and a huge constraint width: z is a flat direction."""
    flat_sig, flat_bkg = np.repeat(SIG[1:2], 3, axis=0), np.repeat(BKG[1:2], 3, axis=0)
    model = _model(flat_sig, flat_bkg)
    model = ProfileModel(model.templates, model.poi_samples, model.norms, z_sigma=1e9, z_bounds=(-S, S))
    with caplog.at_level(logging.WARNING, logger="sysaware.higgsml.evaluate"):
        rec = fit_record(model, model.expected(np.array([1.0, 0.0, 0.0])), ["z", "bkg_norm"])
    assert rec["hesse_positive_definite"] is False
    assert any("Hessian not positive definite" in w for w in rec["warnings"])
    assert "Hessian not positive definite" in caplog.text
    assert all(np.isfinite(rec["uncertainty_all"]))
    json.dumps(rec, allow_nan=False)
