"""Property tests (hypothesis) of the HiggsML features and systematic variations.

ATLAS-2014-like HiggsML CSV rows are drawn by hypothesis, written with pandas (3-decimal values,
``-999`` for undefined entries) and read back through the project's reader.  The properties:

1. rotation invariance: rotating every phi of an event by one angle leaves every
   rotation-invariant quantity unchanged (to the rounding of the rotated angles); likewise the
   reflections phi -> -phi and eta -> -eta;
2. event order (``determinism`` tests): permuting the rows permutes every output the same way,
   bit for bit;
3. a zero shift (``tes = 0``, soft-MET width 0) reproduces the nominal bit for bit (``_shift_met``
   keeps the MET of an event whose objects did not move);
4. cheap algebra: up and down shifts are symmetric about the nominal, a shift followed by the
   inverse scale gives the input back; the FAIR-Universe column names give the same variations;
   the ``-999`` sentinel becomes NaN and stays NaN through the variations.

Every test uses the derandomised profile of ``conftest.py`` and a small ``max_examples``.  The
exact-equality tests do not shrink (``NO_SHRINK``).  The CMS properties are in
``test_properties_cms.py``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import NO_SHRINK, assert_exact, assert_same_angle, wrap_phi
from sysaware.higgsml.dataset import TESData
from sysaware.higgsml.io import ATLAS_FEATURES, ATLAS_UNDEFINED, read_higgsml_csv
from sysaware.higgsml.systematics import jet_energy_scale, recompute_derived, soft_met, tau_energy_scale

HML_FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- HiggsML events

_PHIS = ("PRI_tau_phi", "PRI_lep_phi", "PRI_met_phi", "PRI_jet_leading_phi", "PRI_jet_subleading_phi")
_ETAS = ("PRI_tau_eta", "PRI_lep_eta", "PRI_jet_leading_eta", "PRI_jet_subleading_eta")
_TWO_JET_DER = ("DER_deltaeta_jet_jet", "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_lep_eta_centrality")


def _milli(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Values with 3 decimals, as the ATLAS file stores them (angles up to +-3.142 > pi)."""
    return st.integers(round(lo * 1000), round(hi * 1000)).map(lambda k: k / 1000.0)


_hml_row = st.fixed_dictionaries(
    {
        "PRI_tau_pt": _milli(20.0, 300.0),
        "PRI_tau_eta": _milli(-2.5, 2.5),
        "PRI_tau_phi": _milli(-3.142, 3.142),
        "PRI_lep_pt": _milli(20.0, 300.0),
        "PRI_lep_eta": _milli(-2.5, 2.5),
        "PRI_lep_phi": _milli(-3.142, 3.142),
        "PRI_met": _milli(0.1, 500.0),
        "PRI_met_phi": _milli(-3.142, 3.142),
        "PRI_jet_num": st.integers(0, 3),
        "PRI_jet_leading_pt": _milli(25.0, 500.0),
        "PRI_jet_leading_eta": _milli(-4.5, 4.5),
        "PRI_jet_leading_phi": _milli(-3.142, 3.142),
        "PRI_jet_subleading_pt": _milli(25.0, 500.0),
        "PRI_jet_subleading_eta": _milli(-4.5, 4.5),
        "PRI_jet_subleading_phi": _milli(-3.142, 3.142),
        "extra_jets_pt": _milli(25.0, 200.0),
        "DER_mass_MMC": st.one_of(st.just(ATLAS_UNDEFINED), _milli(50.0, 500.0)),
        "Weight": _milli(0.001, 5.0),
        "Label": st.sampled_from(["s", "b"]),
    }
)


@st.composite
def higgsml_frames(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 8) -> pd.DataFrame:
    """ATLAS 2014 CSV rows: consistent PRI_*, the file's DER_* (3 decimals), -999 where undefined."""
    rows = draw(st.lists(_hml_row, min_size=min_rows, max_size=max_rows))
    ids = draw(st.lists(st.integers(100_000, 999_999), min_size=len(rows), max_size=len(rows), unique=True))
    df = pd.DataFrame(rows)
    nj = df["PRI_jet_num"].to_numpy()
    lead, sub = df["PRI_jet_leading_pt"].to_numpy(), df["PRI_jet_subleading_pt"].to_numpy()
    df["PRI_jet_all_pt"] = np.round(
        np.where(nj >= 1, lead, 0.0) + np.where(nj >= 2, sub, 0.0) + np.where(nj >= 3, df["extra_jets_pt"], 0.0), 3
    )
    df["PRI_met_sumet"] = np.round(df["PRI_met"] + df["PRI_jet_all_pt"] + 50.0, 3)
    for col in ("PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi"):
        df.loc[nj < 1, col] = ATLAS_UNDEFINED
    for col in ("PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi"):
        df.loc[nj < 2, col] = ATLAS_UNDEFINED
    feats = {c: df[c].replace(ATLAS_UNDEFINED, np.nan).to_numpy(dtype=np.float64) for c in df if c.startswith("PRI_")}
    feats["DER_mass_MMC"] = df["DER_mass_MMC"].to_numpy(dtype=np.float64)
    der = recompute_derived(feats)  # the file's DER_* are the recipe's, rounded like everything else
    for name in ATLAS_FEATURES:
        if name.startswith("DER_") and name != "DER_mass_MMC":
            df[name] = np.where(np.isnan(der[name]), ATLAS_UNDEFINED, np.round(der[name], 3))
    df["EventId"] = ids
    return df[["EventId", *ATLAS_FEATURES, "Weight", "Label"]]


def read_frame(df: pd.DataFrame) -> Any:
    """The frame written as a CSV and read back with :func:`read_higgsml_csv` (-999 -> NaN)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "higgsml.csv"
        df.to_csv(path, index=False)
        return read_higgsml_csv(path)


def nominal_features(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The nominal: the file's PRI_* and DER_mass_MMC, every other DER_* recomputed (as TESData uses)."""
    return recompute_derived(read_frame(df).features)


def rotate_hml(f: Mapping[str, np.ndarray], fn: Callable[[np.ndarray], np.ndarray], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {k: (fn(v) if k in keys else v.copy()) for k, v in f.items()}


# rotation-invariant HiggsML quantities: all DER_* and the PRI_* that are not angles.  Excluded by
# definition: PRI_tau_phi, PRI_lep_phi, PRI_met_phi, PRI_jet_leading_phi, PRI_jet_subleading_phi
# (raw azimuths; none is among the default network inputs, higgsml.features in the config schema).
# Masses (sqrt of E^2 - p^2, m_T) get an absolute tolerance for the sqrt near m = 0.
_HML_MASSES = ("DER_mass_transverse_met_lep", "DER_mass_vis", "DER_mass_jet_jet")


def assert_hml_invariant(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], where: str) -> None:
    for name in a:
        if name in _PHIS:
            continue
        atol = 1e-4 if name in _HML_MASSES else 1e-9
        np.testing.assert_allclose(b[name], a[name], rtol=1e-9, atol=atol, err_msg=f"{where}: {name}")


# --------------------------------------------------------------------------- HiggsML: -999 convention


@HML_FAST
@given(df=higgsml_frames())
def test_higgsml_sentinel_becomes_nan_and_stays_nan_through_variations(df: pd.DataFrame) -> None:
    """-999 in the CSV is NaN (mask recorded); jet entries of < 1 / < 2 jet events and the two-jet
    DER_* stay NaN through TES, JES and soft MET, and nothing else becomes NaN."""
    ev = read_frame(df)
    for name in ATLAS_FEATURES:
        sentinel = (df[name] == ATLAS_UNDEFINED).to_numpy()
        assert np.array_equal(ev.undefined_mask(name), sentinel) and np.array_equal(np.isnan(ev.features[name]), sentinel), name
    nj = ev.features["PRI_jet_num"]
    variations = {
        "tes": tau_energy_scale(ev.features, 0.05, tau_pt_cut=None)[0],
        "jes": jet_energy_scale(ev.features, -0.05)[0],
        "soft": soft_met(ev.features, 5.0, 3)[0],
    }
    for what, out in variations.items():
        for name in ("PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi"):
            assert np.array_equal(np.isnan(out[name]), nj < 1), (what, name)
        for name in ("PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", *_TWO_JET_DER):
            assert np.array_equal(np.isnan(out[name]), nj < 2), (what, name)
        assert np.array_equal(np.isnan(out["DER_mass_MMC"]), ev.undefined_mask("DER_mass_MMC")), what
        jet_objects = [k for k in out if k.startswith(("PRI_jet_leading", "PRI_jet_subleading"))]
        defined = [k for k in out if k not in (*_TWO_JET_DER, *jet_objects, "DER_mass_MMC")]
        assert all(np.isfinite(out[k]).all() for k in defined), what


# --------------------------------------------------------------------------- HiggsML: symmetries


@HML_FAST
@given(df=higgsml_frames(), alpha=st.floats(-math.pi, math.pi), tes=st.floats(-0.1, 0.1))
def test_higgsml_features_are_rotation_invariant(df: pd.DataFrame, alpha: float, tes: float) -> None:
    """Rotating the tau, lepton, jets and MET by alpha (wrapped): every DER_* and non-angle PRI_*
    unchanged, nominal and after TES / JES; the shifted MET phi rotates by alpha."""
    f = read_frame(df).features
    rot = rotate_hml(f, lambda p: wrap_phi(p + alpha), _PHIS)
    assert_hml_invariant(recompute_derived(f), recompute_derived(rot), "nominal")
    for name, fn in (("tes", tau_energy_scale), ("jes", jet_energy_scale)):
        a, kept_a = fn(f, tes, tau_pt_cut=None)
        b, kept_b = fn(rot, tes, tau_pt_cut=None)
        assert np.array_equal(kept_a, kept_b)
        assert_hml_invariant(a, b, name)
        assert_same_angle(b["PRI_met_phi"], a["PRI_met_phi"] + alpha, atol=1e-9, err_msg=name)


@HML_FAST
@given(df=higgsml_frames(), tes=st.floats(-0.1, 0.1))
def test_higgsml_features_are_reflection_invariant(df: pd.DataFrame, tes: float) -> None:
    """phi -> -phi: DER_* unchanged, MET phi mirrored.  eta -> -eta: DER_* unchanged (the
    PRI_*_eta flip sign by definition and are excluded)."""
    f = read_frame(df).features
    mirrored = rotate_hml(f, np.negative, _PHIS)
    flipped = rotate_hml(f, np.negative, _ETAS)
    a = tau_energy_scale(f, tes, tau_pt_cut=None)[0]
    b = tau_energy_scale(mirrored, tes, tau_pt_cut=None)[0]
    c = tau_energy_scale(flipped, tes, tau_pt_cut=None)[0]
    assert_hml_invariant(a, b, "-phi")
    assert_same_angle(b["PRI_met_phi"], -a["PRI_met_phi"], atol=1e-9)
    assert_hml_invariant({k: v for k, v in a.items() if k not in _ETAS}, c, "-eta")
    assert_same_angle(c["PRI_met_phi"], a["PRI_met_phi"], atol=1e-9)


# --------------------------------------------------------------------------- HiggsML: event order

DEFAULT_INPUTS = [  # higgsml.features default of workflow/schemas/config.schema.yaml
    "PRI_tau_pt", "PRI_tau_eta", "PRI_lep_pt", "PRI_lep_eta", "PRI_met", "PRI_jet_num", "PRI_jet_all_pt",
    "PRI_jet_leading_pt", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltar_tau_lep",
    "DER_pt_tot", "DER_sum_pt", "DER_pt_ratio_lep_tau", "DER_met_phi_centrality",
]


def tes_data(f: Mapping[str, np.ndarray]) -> TESData:
    """A :class:`TESData` over the features (one sample, all rows in the template split)."""
    n = len(f["PRI_tau_pt"])
    return TESData(
        raw=dict(f), weight=np.ones(n), sample=np.zeros(n, dtype=np.int64), split=np.full(n, 2, dtype=np.int8),
        sample_names=["all"], signal=np.array([True]), features=list(DEFAULT_INPUTS), undefined_fill=0.0,
        tau_pt_cut=22.0, mass_mmc="sum_pt_ratio",
    )


@HML_FAST
@given(df=higgsml_frames(min_rows=2), data=st.data())
def test_higgsml_event_order_determinism(df: pd.DataFrame, data: st.DataObject) -> None:
    """Permuting the rows (and a per-row z with them) permutes the TES/JES outputs, the kept
    masks and TESData.inputs_at bit for bit; a scalar z equals the same z given per row."""
    f = read_frame(df).features
    n = len(df)
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    z = np.array(data.draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n)))
    fp = {k: v[perm] for k, v in f.items()}
    for name, fn, arg, argp in (
        ("tes", tau_energy_scale, z, z[perm]),
        ("jes", jet_energy_scale, 0.03, 0.03),
    ):
        out, kept = fn(f, arg, tau_pt_cut=20.0)
        outp, keptp = fn(fp, argp, tau_pt_cut=20.0)
        assert np.array_equal(kept[perm], keptp), name
        order = (np.cumsum(kept) - 1)[perm][keptp]  # row of input row perm[i] among the kept ones
        assert_exact({k: v[order] for k, v in out.items()}, outp, where=name)
    tdata, tdata_p = tes_data(f), tes_data(fp)
    rows = np.arange(n)
    x, kept = tdata.inputs_at(rows, z)
    xp, keptp = tdata_p.inputs_at(rows, z[perm])
    assert np.array_equal(x[perm], xp) and np.array_equal(kept[perm], keptp)
    z0 = float(z[0])
    assert_exact(dict(zip(("x", "k"), tdata.inputs_at(rows, z0), strict=True)),
                 dict(zip(("x", "k"), tdata.inputs_at(rows, np.full(n, z0)), strict=True)), where="scalar z")
    # a subset of rows gives the same inputs as the full set restricted to it
    sub = rows[perm[: max(1, n // 2)]]
    assert np.array_equal(tdata.inputs_at(sub, z[sub])[0], x[sub])


# --------------------------------------------------------------------------- HiggsML: zero shift


def _hml_zero_shifts(f0: Mapping[str, np.ndarray]) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    return {
        "tes 0": tau_energy_scale(f0, 0.0, tau_pt_cut=None),
        "tes 0 per row": tau_energy_scale(f0, np.zeros(len(f0["PRI_tau_pt"])), tau_pt_cut=None),
        "jes 0": jet_energy_scale(f0, 0.0),
        "soft met 0": soft_met(f0, 0.0),
    }


_MET_DEPENDENT = ("PRI_met", "PRI_met_phi", "DER_mass_transverse_met_lep", "DER_pt_h", "DER_pt_tot", "DER_met_phi_centrality")


@HML_FAST
@given(df=higgsml_frames())
def test_higgsml_zero_shift_reproduces_nominal_to_rounding(df: pd.DataFrame) -> None:
    """tes = 0, jes = 0, soft-MET sigma = 0 on the nominal: every feature not touching the MET bit
    for bit (DER_mass_MMC included: sum_pt ratio exactly 1), the MET ones to an ulp or so."""
    f0 = nominal_features(df)
    assert_exact(f0, recompute_derived(f0), where="recompute_derived is idempotent")
    for name, (out, kept) in _hml_zero_shifts(f0).items():
        assert kept.all(), name
        assert_exact(f0, out, keys=[k for k in f0 if k not in _MET_DEPENDENT], where=name)
        np.testing.assert_allclose(out["PRI_met"], f0["PRI_met"], rtol=1e-15, atol=0, err_msg=name)  # a few ulp
        assert_same_angle(out["PRI_met_phi"], f0["PRI_met_phi"], atol=1e-15, err_msg=name)
        for k in _MET_DEPENDENT[2:]:
            np.testing.assert_allclose(out[k], f0[k], rtol=1e-12, atol=1e-5 if "mass" in k else 1e-9, err_msg=f"{name}: {k}")
    # the network inputs at z = 0 are the nominal features (float32, undefined -> fill)
    x, kept = tes_data(f0).inputs_at(np.arange(len(df)), 0.0)
    ref = np.stack([np.nan_to_num(f0[k], nan=0.0) for k in DEFAULT_INPUTS], axis=1).astype(np.float32)
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-5)
    assert np.array_equal(kept, f0["PRI_tau_pt"] > 22.0)


@settings(HML_FAST, phases=NO_SHRINK)
@given(df=higgsml_frames())
def test_higgsml_zero_shift_reproduces_nominal_exactly(df: pd.DataFrame) -> None:
    """tau_energy_scale(z=0), jet_energy_scale(0), soft_met(0) give the nominal arrays bit for bit."""
    f0 = nominal_features(df)
    for name, (out, _) in _hml_zero_shifts(f0).items():
        assert_exact(f0, out, where=name)


# --------------------------------------------------------------------------- HiggsML: algebra


@HML_FAST
@given(df=higgsml_frames(), tes=st.floats(0.001, 0.2))
def test_higgsml_tes_up_down_symmetric_and_inverse_scale_gives_back_input(df: pd.DataFrame, tes: float) -> None:
    """pT(+t) + pT(-t) = 2 pT and the MET vectors average to the nominal; TES t then
    -t / (1 + t) gives the nominal back (DER_mass_MMC too) to float64 rounding."""
    f0 = nominal_features(df)
    up = tau_energy_scale(f0, tes, tau_pt_cut=None)[0]
    down = tau_energy_scale(f0, -tes, tau_pt_cut=None)[0]
    np.testing.assert_allclose(up["PRI_tau_pt"] + down["PRI_tau_pt"], 2 * f0["PRI_tau_pt"], rtol=1e-14)
    for trig in (np.cos, np.sin):
        avg = (up["PRI_met"] * trig(up["PRI_met_phi"]) + down["PRI_met"] * trig(down["PRI_met_phi"])) / 2
        np.testing.assert_allclose(avg, f0["PRI_met"] * trig(f0["PRI_met_phi"]), rtol=1e-12, atol=1e-10)
    back = tau_energy_scale(up, -tes / (1.0 + tes), tau_pt_cut=None)[0]
    for name in f0:
        if name == "PRI_met_phi":
            assert_same_angle(back[name], f0[name], atol=1e-9)
        else:
            atol = 1e-4 if name in _HML_MASSES else 1e-9
            np.testing.assert_allclose(back[name], f0[name], rtol=1e-9, atol=atol, err_msg=name)
    # the tau pT cut after the shift: kept is exactly pT (1 + t) > 22
    _, kept = tau_energy_scale(f0, -tes)
    assert np.array_equal(kept, f0["PRI_tau_pt"] * (1.0 - tes) > 22.0)


@HML_FAST
@given(df=higgsml_frames(), tes=st.floats(-0.1, 0.1), jes=st.floats(-0.1, 0.1))
def test_higgsml_fair_universe_names_give_the_same_variations(df: pd.DataFrame, tes: float, jes: float) -> None:
    """The same events under FAIR-Universe names (PRI_had_*, PRI_n_jets, ...) vary identically."""
    f = read_frame(df).features
    rename = {"PRI_jet_num": "PRI_n_jets", "DER_deltar_tau_lep": "DER_deltar_had_lep",
              "DER_pt_ratio_lep_tau": "DER_pt_ratio_lep_had"}
    rename |= {k: k.replace("PRI_tau_", "PRI_had_") for k in f if k.startswith("PRI_tau_")}
    fair = {rename.get(k, k): v for k, v in f.items() if k not in ("DER_mass_MMC", "PRI_met_sumet")}
    for fn, arg in ((tau_energy_scale, tes), (jet_energy_scale, jes)):
        a, ka = fn(f, arg, tau_pt_cut=None)
        b, kb = fn(fair, arg, tau_pt_cut=None)
        assert np.array_equal(ka, kb)
        assert_exact({rename.get(k, k): v for k, v in a.items() if k in f and k not in ("DER_mass_MMC", "PRI_met_sumet")}, b)
