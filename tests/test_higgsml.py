"""HiggsML ingestion (ATLAS 2014 CSV, FAIR-Universe parquet) and systematic variations."""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import SHARED_DATA, shared_data
from sysaware.higgsml.io import (
    ATLAS_FEATURES,
    HiggsMLEvents,
    HiggsMLInputError,
    read_fair_universe_parquet,
    read_higgsml_csv,
)
from sysaware.higgsml.systematics import (
    jet_energy_scale,
    recompute_derived,
    soft_met,
    tau_energy_scale,
)

CSV_HEAD = SHARED_DATA / "higgsml_atlas_2014_head.csv.gz"
PARQUET = SHARED_DATA / "fair_universe_higgsml_sample.parquet"


def _need(path: Path) -> Path:
    return shared_data(path.name)


@pytest.fixture(scope="module")
def atlas() -> HiggsMLEvents:
    return read_higgsml_csv(_need(CSV_HEAD))


@pytest.fixture(scope="module")
def fair() -> HiggsMLEvents:
    return read_fair_universe_parquet(_need(PARQUET))


# ----------------------------------------------------------------------------- reading


def test_read_atlas_csv_counts_and_weights_match_stdlib(atlas):
    n, counts, wsum, undefined_tau_pt, undefined_mmc, ids = 0, Counter(), Counter(), 0, 0, []
    with gzip.open(CSV_HEAD, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            n += 1
            ids.append(int(row["EventId"]))
            counts[row["Label"]] += 1
            wsum[row["Label"]] += float(row["Weight"])
            undefined_mmc += float(row["DER_mass_MMC"]) == -999.0
            undefined_tau_pt += float(row["PRI_tau_pt"]) == -999.0
    assert n == atlas.n_events == 44_941
    assert int((atlas.label == 1).sum()) == counts["s"]
    assert int((atlas.label == 0).sum()) == counts["b"]
    assert atlas.weight[atlas.label == 1].sum() == pytest.approx(wsum["s"], rel=1e-12)
    assert atlas.weight[atlas.label == 0].sum() == pytest.approx(wsum["b"], rel=1e-12)
    assert set(ATLAS_FEATURES) == set(atlas.features)
    assert atlas.detailed_label is None
    assert atlas.event_id.tolist() == ids
    # -999 became NaN, with the mask recording where
    mmc = atlas.features["DER_mass_MMC"]
    assert int(np.isnan(mmc).sum()) == undefined_mmc > 0
    assert np.array_equal(atlas.undefined_mask("DER_mass_MMC"), np.isnan(mmc))
    assert undefined_tau_pt == 0 and not np.isnan(atlas.features["PRI_tau_pt"]).any()
    assert not any((v == -999.0).any() for v in atlas.features.values())
    # jets: subleading quantities undefined exactly when fewer than two jets
    assert np.array_equal(np.isnan(atlas.features["PRI_jet_subleading_pt"]), atlas.features["PRI_jet_num"] < 2)
    assert set(atlas.extra) == {"KaggleSet", "KaggleWeight"}


def test_read_fair_universe_parquet(fair):
    import json

    meta = json.loads((SHARED_DATA / "fair_universe_higgsml_sample_metadata.json").read_text())
    raw = pd.read_parquet(PARQUET)
    assert fair.n_events == meta["total_rows"] == 1000
    assert int(fair.label.sum()) == int((raw["labels"] == 1).sum())
    assert Counter(fair.detailed_label) == Counter(raw["detailed_labels"])
    assert set(fair.detailed_label) == set(meta["detailed_labels"])
    # signal is exactly the htautau process
    assert np.array_equal(fair.label == 1, fair.detailed_label == "htautau")
    assert fair.weight.sum() == pytest.approx(meta["sum_weights"], rel=1e-5)
    assert np.array_equal(fair.event_id, np.arange(1000))
    assert {c for c in meta["columns"] if c.startswith(("PRI_", "DER_"))} == set(fair.features)
    nj = fair.features["PRI_n_jets"]
    assert np.array_equal(np.isnan(fair.features["PRI_jet_leading_pt"]), nj < 1)
    assert np.array_equal(fair.undefined_mask("DER_mass_jet_jet"), (raw["DER_mass_jet_jet"] == -25).to_numpy())


# ----------------------------------------------------------------------------- derived features


# |recomputed - file| tolerances on every real event: the file's inputs are rounded to
# 3 decimals (angles to 1 mrad), which propagates to ~0.1 GeV on masses/pT of ~100 GeV.
ATLAS_TOL = {
    "DER_mass_transverse_met_lep": 0.2,
    "DER_mass_vis": 0.25,
    "DER_pt_h": 0.15,
    "DER_deltaeta_jet_jet": 0.0011,
    "DER_prodeta_jet_jet": 0.004,
    "DER_deltar_tau_lep": 0.002,
    "DER_pt_tot": 0.3,
    "DER_sum_pt": 0.0011,
    "DER_pt_ratio_lep_tau": 0.001,
}


def test_recomputed_derived_match_atlas_file(atlas):
    r = recompute_derived(atlas.features)
    for name, tol in ATLAS_TOL.items():
        a, b = atlas.features[name], r[name]
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.nanmax(np.abs(a - b)) <= tol, (name, np.nanmax(np.abs(a - b)))
    # centralities: ratios of sines, ill-conditioned when tau and lepton are back to back
    # in phi (or the two jets share an eta); all but a handful of events agree to 0.02
    for name, tol, max_bad in (("DER_met_phi_centrality", 0.02, 30), ("DER_lep_eta_centrality", 0.01, 2)):
        d = np.abs(atlas.features[name] - r[name])
        assert np.array_equal(np.isnan(atlas.features[name]), np.isnan(r[name])), name
        assert int((d > tol).sum()) <= max_bad, (name, int((d > tol).sum()))
    # DER_mass_jet_jet: the recipe (and this code) uses massless jets, the file massive ones
    a, b = atlas.features["DER_mass_jet_jet"], r["DER_mass_jet_jet"]
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmedian(np.abs(a - b) / a) < 0.02
    assert np.array_equal(r["DER_mass_MMC"], atlas.features["DER_mass_MMC"], equal_nan=True)


def test_recomputed_derived_match_fair_universe_file(fair):
    r = recompute_derived(fair.features)
    for name in fair.features:
        if name.startswith("DER_"):
            a, b = fair.features[name], r[name]
            assert np.array_equal(np.isnan(a), np.isnan(b)), name
            assert np.nanmax(np.abs(a - b)) <= 0.05, (name, np.nanmax(np.abs(a - b)))


# ----------------------------------------------------------------------------- TES


def _hand_tes(ev: dict[str, float], tes: float) -> dict[str, float]:
    """The TES recipe for one event in plain Python math (tau mass 0.8, massless lepton/MET)."""
    tpt0, teta, tphi = ev["PRI_tau_pt"], ev["PRI_tau_eta"], ev["PRI_tau_phi"]
    lpt, leta, lphi = ev["PRI_lep_pt"], ev["PRI_lep_eta"], ev["PRI_lep_phi"]
    tpt = tpt0 * (1 + tes)
    mx = ev["PRI_met"] * math.cos(ev["PRI_met_phi"]) - tes * tpt0 * math.cos(tphi)
    my = ev["PRI_met"] * math.sin(ev["PRI_met_phi"]) - tes * tpt0 * math.sin(tphi)
    met = math.sqrt(mx * mx + my * my)
    tau = (tpt * math.cos(tphi), tpt * math.sin(tphi), tpt * math.sinh(teta))
    tau_e = math.sqrt(sum(c * c for c in tau) + 0.8**2)
    lep = (lpt * math.cos(lphi), lpt * math.sin(lphi), lpt * math.sinh(leta))
    lep_e = math.sqrt(sum(c * c for c in lep))
    e = tau_e + lep_e
    p = [tau[i] + lep[i] for i in range(3)]
    return {
        "PRI_tau_pt": tpt,
        "PRI_met": met,
        "PRI_met_phi": math.atan2(my, mx),
        "DER_mass_transverse_met_lep": math.sqrt((lpt + met) ** 2 - (lep[0] + mx) ** 2 - (lep[1] + my) ** 2),
        "DER_mass_vis": math.sqrt(e * e - p[0] ** 2 - p[1] ** 2 - p[2] ** 2),
        "DER_pt_h": math.hypot(p[0] + mx, p[1] + my),
        "DER_sum_pt": lpt + tpt + ev["PRI_jet_all_pt"],
        "DER_pt_ratio_lep_tau": lpt / tpt,
    }


@pytest.mark.parametrize("tes", [-0.05, 0.03, 0.1])
def test_tes_matches_hand_calculation(atlas, tes):
    first = {k: v[:6] for k, v in atlas.features.items()}
    shifted, kept = tau_energy_scale(first, tes, tau_pt_cut=None)
    assert kept.all()
    for i in range(6):
        ev = {k: float(v[i]) for k, v in first.items()}
        for name, value in _hand_tes(ev, tes).items():
            assert shifted[name][i] == pytest.approx(value, rel=1e-10, abs=1e-10), (i, name)
    # inputs untouched
    assert np.array_equal(first["PRI_tau_pt"], atlas.features["PRI_tau_pt"][:6])


def test_tes_zero_is_nominal(atlas):
    f = atlas.features
    out, kept = tau_energy_scale(f, 0.0, tau_pt_cut=None)
    assert kept.all()
    for name in f:
        if name.endswith("_phi"):  # the file rounds phi to 3 decimals, so it holds +-3.142 > pi
            np.testing.assert_allclose(np.nan_to_num(np.angle(np.exp(1j * (out[name] - f[name])))), 0.0, atol=1e-12, err_msg=name)
        elif name.startswith("PRI_"):
            np.testing.assert_allclose(out[name], f[name], rtol=1e-12, atol=1e-12, err_msg=name)
    ref = recompute_derived(f)
    for name in f:
        if name.startswith("DER_") and name != "DER_mass_MMC":
            # m_T near 0 is a difference of squares: absolute rounding noise up to ~1e-8 GeV
            np.testing.assert_allclose(out[name], ref[name], rtol=1e-9, atol=1e-6, err_msg=name)
    # MMC rescaled by sum_pt(new)/sum_pt(old): within the file's rounding of DER_sum_pt
    np.testing.assert_allclose(out["DER_mass_MMC"], f["DER_mass_MMC"], rtol=1e-4)


def test_tes_cut_and_events(atlas):
    shifted, kept = tau_energy_scale(atlas, 0.05)
    assert np.array_equal(kept, atlas.features["PRI_tau_pt"] * 1.05 > 22.0)
    assert isinstance(shifted, HiggsMLEvents) and shifted.n_events == int(kept.sum())
    assert np.array_equal(shifted.weight, atlas.weight[kept])
    assert (shifted.features["PRI_tau_pt"] > 22.0).all()
    np.testing.assert_allclose(shifted.features["PRI_tau_pt"], 1.05 * atlas.features["PRI_tau_pt"][kept])
    # MMC follows the tau, NaN stays NaN
    assert np.array_equal(np.isnan(shifted.features["DER_mass_MMC"]), np.isnan(atlas.features["DER_mass_MMC"][kept]))
    unchanged, _ = tau_energy_scale(atlas.features, 0.05, mass_mmc="unchanged")
    assert np.array_equal(unchanged["DER_mass_MMC"], atlas.features["DER_mass_MMC"][kept], equal_nan=True)
    # a down shift drops more events
    _, kept_down = tau_energy_scale(atlas.features, -0.05)
    assert kept_down.sum() < kept.sum()


def test_tes_on_fair_universe_names(fair):
    out, kept = tau_energy_scale(fair.features, 0.02, tau_pt_cut=None)
    np.testing.assert_allclose(out["PRI_had_pt"], 1.02 * fair.features["PRI_had_pt"])
    np.testing.assert_allclose(out["DER_pt_ratio_lep_had"], fair.features["PRI_lep_pt"] / out["PRI_had_pt"])
    assert "DER_pt_ratio_lep_tau" not in out


# ----------------------------------------------------------------------------- JES, soft MET


def test_jes(atlas):
    f = atlas.features
    zero, _ = jet_energy_scale(f, 0.0)
    np.testing.assert_allclose(zero["PRI_met"], f["PRI_met"], rtol=1e-12)
    out, kept = jet_energy_scale(f, 0.04)
    assert kept.all()
    nj = f["PRI_jet_num"]
    np.testing.assert_allclose(out["PRI_jet_all_pt"], 1.04 * f["PRI_jet_all_pt"])
    assert np.array_equal(np.isnan(out["PRI_jet_leading_pt"]), nj < 1)
    no_jet = nj == 0
    np.testing.assert_allclose(out["PRI_met"][no_jet], f["PRI_met"][no_jet], rtol=1e-12)
    assert not np.allclose(out["PRI_met"][~no_jet], f["PRI_met"][~no_jet])
    # one-jet events by hand: MET vector minus 4 % of the jet pT vector
    i = int(np.flatnonzero(nj == 1)[0])
    jx = 0.04 * f["PRI_jet_leading_pt"][i] * math.cos(f["PRI_jet_leading_phi"][i])
    jy = 0.04 * f["PRI_jet_leading_pt"][i] * math.sin(f["PRI_jet_leading_phi"][i])
    mx = f["PRI_met"][i] * math.cos(f["PRI_met_phi"][i]) - jx
    my = f["PRI_met"][i] * math.sin(f["PRI_met_phi"][i]) - jy
    assert out["PRI_met"][i] == pytest.approx(math.hypot(mx, my), rel=1e-12)
    two = nj >= 2
    np.testing.assert_allclose(out["DER_mass_jet_jet"][two], 1.04 * recompute_derived(f)["DER_mass_jet_jet"][two], rtol=1e-9)


def test_soft_met(atlas):
    f = atlas.features
    a, _ = soft_met(f, 3.0, np.random.default_rng(7))
    b, _ = soft_met(f, 3.0, np.random.default_rng(7))
    c, _ = soft_met(f, 3.0, np.random.default_rng(8))
    assert np.array_equal(a["PRI_met"], b["PRI_met"]) and not np.array_equal(a["PRI_met"], c["PRI_met"])
    dx = a["PRI_met"] * np.cos(a["PRI_met_phi"]) - f["PRI_met"] * np.cos(f["PRI_met_phi"])
    assert abs(dx.mean()) < 0.1 and dx.std() == pytest.approx(3.0, rel=0.03)
    zero, _ = soft_met(f, 0.0)
    np.testing.assert_allclose(zero["PRI_met"], f["PRI_met"], rtol=1e-12)
    with pytest.raises(ValueError, match="seeded"):
        soft_met(f, 1.0)


# ----------------------------------------------------------------------------- bad input


def _small_csv(tmp_path: Path, edit) -> Path:
    df = pd.read_csv(_need(CSV_HEAD), nrows=20)
    df = edit(df)
    out = tmp_path / "bad.csv"
    df.to_csv(out, index=False)
    return out


def test_bad_csv_inputs(tmp_path):
    with pytest.raises(HiggsMLInputError, match="nope.csv.*not found"):
        read_higgsml_csv(tmp_path / "nope.csv")
    p = _small_csv(tmp_path, lambda d: d.drop(columns=["Weight"]))
    with pytest.raises(HiggsMLInputError, match=r"bad\.csv.*Weight"):
        read_higgsml_csv(p)

    def nan_weight(d):
        d.loc[3, "Weight"] = np.nan
        return d

    with pytest.raises(HiggsMLInputError, match=r"bad\.csv.*column Weight.*non-finite"):
        read_higgsml_csv(_small_csv(tmp_path, nan_weight))

    def inf_feature(d):
        d["PRI_met"] = d["PRI_met"].astype(object)
        d.loc[5, "PRI_met"] = "inf"
        return d

    with pytest.raises(HiggsMLInputError, match=r"bad\.csv.*column PRI_met"):
        read_higgsml_csv(_small_csv(tmp_path, inf_feature))

    def bad_label(d):
        d.loc[0, "Label"] = "x"
        return d

    with pytest.raises(HiggsMLInputError, match=r"bad\.csv.*column Label"):
        read_higgsml_csv(_small_csv(tmp_path, bad_label))
    # a plain (not gzip) CSV reads fine
    assert read_higgsml_csv(_small_csv(tmp_path, lambda d: d)).n_events == 20


def test_bad_parquet_inputs(tmp_path):
    with pytest.raises(HiggsMLInputError, match="nope.parquet.*not found"):
        read_fair_universe_parquet(tmp_path / "nope.parquet")
    raw = pd.read_parquet(_need(PARQUET)).head(10)
    p = tmp_path / "bad.parquet"
    raw.drop(columns=["labels"]).to_parquet(p)
    with pytest.raises(HiggsMLInputError, match=r"bad\.parquet.*labels"):
        read_fair_universe_parquet(p)
    w = raw.copy()
    w.loc[2, "weights"] = np.inf
    w.to_parquet(p)
    with pytest.raises(HiggsMLInputError, match=r"bad\.parquet.*column weights"):
        read_fair_universe_parquet(p)
