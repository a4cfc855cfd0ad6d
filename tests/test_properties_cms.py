"""Property tests (hypothesis) of the CMS tau+jets features and systematic variations.

Small random events are drawn by hypothesis: NanoEvents-like awkward records (variable numbers of
jets, gen jets, taus and leptons, with coffea's NanoAOD behaviours so that the selection's
``metric_table`` works).  The properties:

1. rotation invariance: rotating every phi of an event (objects, gen jets, leptons, MET) by one
   angle leaves every rotation-invariant feature unchanged (to the float64 rounding of the
   rotated angles); likewise the reflections phi -> -phi and eta -> -eta;
2. event order (``determinism`` tests): permuting the events (their ids going along, which is
   what the hashed JER smearing is keyed on) permutes every output the same way, bit for bit,
   and a split into chunks gives the same outputs as one pass;
3. a zero shift (JES/TES coefficient 0, JER scale factor 1) reproduces the nominal bit for bit,
   objects and MET (``propagate_met`` keeps the MET of an event whose objects did not move; it
   used to rebuild it from (pt, phi), an ulp off, and a zero MET's phi at 0 or pi);
4. cheap algebra: up and down shifts are symmetric about the nominal, a shift followed by the
   inverse scale gives the input back, the JER variations bracket the nominal smearing, b-tag
   weights do not depend on the jet order, unit scale factors give unit weights.

Every test uses the derandomised profile of ``conftest.py`` and a small ``max_examples``.  The
exact-equality tests do not shrink (``NO_SHRINK``), so they stay fast.  The HiggsML properties
are in ``test_properties_higgsml.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import awkward as ak
import numpy as np
from coffea.nanoevents.methods import nanoaod
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import NO_SHRINK, TWO_PI, assert_exact, assert_same_angle, wrap_phi
from sysaware.cms.objects.corrections import BTagConfig, BinnedTable, JERConfig, JESConfig, TESConfig
from sysaware.cms.objects.features import FEATURE_NAMES, compute_features, selected_event_features
from sysaware.cms.objects.selection import SelectionConfig, select_events
from sysaware.cms.objects.variations import (
    SHAPE_VARIATIONS,
    ShiftedObjects,
    SystematicsConfig,
    base_objects,
    btag_event_weights,
    jer_factors,
    nominal_objects,
    propagate_met,
    shift_jes,
    shift_tes,
    smear_jets,
    varied_objects,
    with_objects,
)

# awkward's per-call overhead (~0.1 s per selection pass) sets the budget: few examples, each a
# batch of up to 8 events (every property is per event, so a batch checks up to 8 at once)
CMS_FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CMS_CHAIN = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: the largest float32 below pi: drawn angles stay inside [-pi, pi] in float32 and float64
PHI_MAX = float(np.nextafter(np.float32(np.pi), np.float32(0.0)))


# --------------------------------------------------------------------------- CMS events

_SHAPE_COLLECTIONS = ("Jet", "GenJet", "Tau", "Electron", "Muon")


def _f32(lo: float, hi: float) -> st.SearchStrategy[float]:
    """float32 values in [lo, hi] (bounds rounded to the nearest float32)."""
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32)


_phi32 = _f32(-PHI_MAX, PHI_MAX)

#: a jet and, through ``gen``, its generator jet: none (idx -1), an index past the stored gen jets
#: (as in real files), a match (pT within 20 %, Delta R < 0.15), or one failing the pT window
#: (gen pT twice the jet's) or the Delta R < 0.2 cone (Delta phi 0.3-1): never near a match boundary
_jet_st = st.fixed_dictionaries(
    {
        "pt": _f32(5.0, 300.0),
        "eta": _f32(-3.0, 3.0),
        "phi": _phi32,
        "mass": _f32(0.0, 30.0),
        "jetId": st.sampled_from([6, 2, 0]),  # first (preferred by hypothesis): passes
        "btagCSVV2": _f32(0.0, 1.0),
        "hadronFlavour": st.sampled_from([0, 4, 5]),
        "gen": st.sampled_from(["match", "none", "beyond", "pt_off", "dr_off"]),
        "gen_r": _f32(0.8, 1.2),
        "gen_deta": _f32(-0.1, 0.1),
        "gen_dphi": _f32(-0.1, 0.1),
        "far_dphi": _f32(0.3, 1.0),
    }
)
_tau_st = st.fixed_dictionaries(
    {
        "pt": _f32(18.0, 200.0),
        "eta": _f32(-2.5, 2.5),
        "phi": _phi32,
        "mass": _f32(0.0, 2.0),
        "charge": st.sampled_from([-1, 1]),
        "idDecayMode": st.sampled_from([True, True, True, False]),
        "genPartFlav": st.sampled_from([5, 0]),
    }
)
_lep_st = st.fixed_dictionaries(
    {
        "pt": _f32(5.0, 50.0),
        "eta": _f32(-3.0, 3.0),
        "phi": _phi32,
        "charge": st.sampled_from([-1, 1]),
        "cutBased": st.integers(0, 4),
        "looseId": st.booleans(),
        "pfRelIso03_all": _f32(0.0, 0.3),
    }
)


def _collection(name: str, rows: list[list[dict[str, Any]]], dtypes: Mapping[str, Any]) -> ak.Array:
    """Jagged NanoAOD-like collection ``name`` (coffea behaviour) from per-event lists of dicts."""
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    flat = [o for r in rows for o in r]
    cols = {k: ak.unflatten(np.array([o[k] for o in flat], dtype=dt), counts) for k, dt in dtypes.items()}
    return ak.zip(cols, with_name=name, behavior=nanoaod.behavior)


_KIN = {"pt": np.float32, "eta": np.float32, "phi": np.float32, "mass": np.float32, "charge": np.int32}


@st.composite
def cms_events(draw: st.DrawFn, min_events: int = 1, max_events: int = 8, min_taus: int = 0) -> ak.Array:
    """NanoEvents-like MC events: Jet (+ genJetIdx), GenJet, Tau, Electron, Muon, MET, event ids."""
    n = draw(st.integers(min_events, max_events))
    ids = draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n, unique=True))
    jets: list[list[dict[str, Any]]] = []
    gens: list[list[dict[str, Any]]] = []
    for _ in range(n):
        k = draw(st.integers(0, 5))
        ev_jets = draw(st.lists(_jet_st, min_size=k, max_size=k))
        ev_gen: list[dict[str, Any]] = []
        for j in ev_jets:
            j["charge"] = 0
            if j["gen"] in ("none", "beyond"):
                continue
            j["genJetIdx"] = len(ev_gen)
            dphi = j["far_dphi"] if j["gen"] == "dr_off" else j["gen_dphi"]
            ev_gen.append(
                {
                    "pt": j["pt"] * (2.0 if j["gen"] == "pt_off" else j["gen_r"]),
                    "eta": j["eta"] + j["gen_deta"],
                    "phi": float(wrap_phi(j["phi"] + dphi)),
                    "mass": 5.0,
                    "charge": 0,
                }
            )
        for j in ev_jets:
            if j["gen"] == "none":
                j["genJetIdx"] = -1
            elif j["gen"] == "beyond":
                j["genJetIdx"] = len(ev_gen) + 1
        jets.append(ev_jets)
        gens.append(ev_gen)
    # mostly one tau and no lepton, so that the selection keeps a fair share of the events
    n_tau = [max(min_taus, draw(st.sampled_from([1, 1, 1, 1, 0, 2]))) for _ in range(n)]
    taus = [draw(st.lists(_tau_st, min_size=k, max_size=k)) for k in n_tau]
    n_lep = [draw(st.sampled_from([0, 0, 0, 1])) for _ in range(2 * n)]
    eles = [draw(st.lists(_lep_st, min_size=k, max_size=k)) for k in n_lep[:n]]
    mus = [draw(st.lists(_lep_st, min_size=k, max_size=k)) for k in n_lep[n:]]
    for lep in (*eles, *mus):
        for o in lep:
            o["mass"] = 0.0
    # MET >= 1 GeV: a zero MET has no direction (see test_cms_zero_met_keeps_its_phi_at_zero_shift)
    met_pt = draw(st.lists(_f32(1.0, 300.0), min_size=n, max_size=n))
    met_phi = draw(st.lists(_phi32, min_size=n, max_size=n))
    jet_d = {**_KIN, "jetId": np.int32, "btagCSVV2": np.float32, "hadronFlavour": np.int32, "genJetIdx": np.int32}
    tau_d = {**_KIN, "idDecayMode": bool, "genPartFlav": np.uint8}
    tau_rows = [[{**t, "idMVAoldDM": 63, "idAntiEle": 31, "idAntiMu": 3} for t in ev] for ev in taus]
    tau_d |= {"idMVAoldDM": np.uint8, "idAntiEle": np.uint8, "idAntiMu": np.uint8}
    fields = {
        "run": np.array(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), dtype=np.uint32),
        "luminosityBlock": np.array(draw(st.lists(st.integers(1, 50), min_size=n, max_size=n)), dtype=np.uint32),
        "event": np.array(ids, dtype=np.uint64),
        "Jet": _collection("Jet", jets, jet_d),
        "GenJet": _collection("GenJet", gens, _KIN),
        "Tau": _collection("Tau", tau_rows, tau_d),
        "Electron": _collection("Electron", eles, {**_KIN, "cutBased": np.int32}),
        "Muon": _collection("Muon", mus, {**_KIN, "looseId": bool, "pfRelIso03_all": np.float32}),
        "MET": ak.zip(
            {"pt": np.array(met_pt, dtype=np.float32), "phi": np.array(met_phi, dtype=np.float32)},
            with_name="MissingET",
            behavior=nanoaod.behavior,
        ),
    }
    return ak.zip(fields, depth_limit=1, behavior=nanoaod.behavior)


def transform_events(
    events: ak.Array,
    phi: Callable[[np.ndarray], np.ndarray] | None = None,
    eta: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ak.Array:
    """``events`` with ``phi``/``eta`` mapped (float64) in every collection and, for phi, the MET.

    Angles (and eta) become float64 even with the identity, so that a rotation is exact to float64
    rounding (float32 storage would add ~1e-7 rad of noise unrelated to the code under test) and
    transformed copies of the events have one type (they are concatenated by :func:`run_copies`).
    """
    out = events
    for name in _SHAPE_COLLECTIONS:
        coll = events[name]
        counts = ak.num(coll, axis=1)
        for key, fn in (("phi", phi), ("eta", eta)):
            flat = np.asarray(ak.to_numpy(ak.flatten(coll[key], axis=1)), dtype=np.float64)
            new = fn(flat) if fn is not None else flat
            coll = ak.with_field(coll, ak.unflatten(new, counts), key)
        out = ak.with_field(out, coll, name)
    mphi = np.asarray(ak.to_numpy(events.MET.phi), dtype=np.float64)
    met = ak.with_field(events.MET, phi(mphi) if phi is not None else mphi, "phi")
    return ak.with_field(out, met, "MET")


def permute_events(events: ak.Array, perm: np.ndarray) -> ak.Array:
    """The events reordered (ids, objects and MET all go along)."""
    return events[ak.Array(perm)]


#: selection loose enough for small random events to pass, every cut still live but the trigger
LOOSE = SelectionConfig(
    triggers=(),
    n_jets_min=1,
    n_lead_jets_min=1,
    tau_pt_min=20.0,
    tau_iso_wp=0,
    tau_anti_ele_wp=0,
    tau_anti_mu_wp=0,
    met_min=10.0,
    n_btag_min=0,
)
SYST = SystematicsConfig(seed=17)


def run_chain(events: ak.Array, variation: str, syst: SystematicsConfig = SYST) -> dict[str, np.ndarray]:
    """What the ingestion stores for one variation: objects, reselection, features, b-tag weights.

    Adds ``mask`` (selected), ``met_pt``/``met_phi`` (the variation's MET of every event) and the
    flat shifted jet and tau pT of every event.
    """
    objs = varied_objects(events, variation, syst)
    sel = select_events(with_objects(events, objs), LOOSE)
    out = selected_event_features(events, sel, objs.met_pt, objs.met_phi)
    jets = sel.jets[sel.mask]
    weights = btag_event_weights(jets.hadronFlavour, jets.btagCSVV2, LOOSE.btag_wp, syst.btag)
    out.update({f"weight_{k}": v for k, v in weights.items()})
    out["n_jets"] = ak.to_numpy(ak.num(jets, axis=1))
    out["mask"] = sel.mask
    out["met_pt"], out["met_phi"] = objs.met_pt, objs.met_phi
    out["jet_pt"] = ak.to_numpy(ak.flatten(objs.jets.pt, axis=1))
    out["tau_pt"] = ak.to_numpy(ak.flatten(objs.taus.pt, axis=1))
    return out


_PER_EVENT = ("mask", "met_pt", "met_phi")


def run_copies(copies: list[ak.Array], variation: str, syst: SystematicsConfig = SYST) -> list[dict[str, np.ndarray]]:
    """:func:`run_chain` of each copy, computed in one pass over the concatenated copies.

    Every step is per event (what the event-order tests check), so this is the chain of each
    copy; one pass instead of one per copy keeps awkward's per-call overhead down.
    """
    out = run_chain(ak.concatenate(copies), variation, syst)
    per_copy: list[dict[str, np.ndarray]] = []
    ev0 = sel0 = jet0 = tau0 = 0
    for c in copies:
        n, n_sel = len(c), int(out["mask"][ev0 : ev0 + len(c)].sum())
        nj, nt = int(ak.sum(ak.num(c.Jet, axis=1))), int(ak.sum(ak.num(c.Tau, axis=1)))
        part: dict[str, np.ndarray] = {}
        for k, v in out.items():
            lo, hi = {"jet_pt": (jet0, jet0 + nj), "tau_pt": (tau0, tau0 + nt)}.get(
                k, (ev0, ev0 + n) if k in _PER_EVENT else (sel0, sel0 + n_sel)
            )
            part[k] = v[lo:hi]
        per_copy.append(part)
        ev0, sel0, jet0, tau0 = ev0 + n, sel0 + n_sel, jet0 + nj, tau0 + nt
    return per_copy


def cleaning_margin(events: ak.Array) -> float:
    """Smallest |Delta R(jet, tau) - jet_tau_dr_min| over the event set (inf without pairs)."""
    best = math.inf
    for jets, taus in zip(events.Jet.tolist(), events.Tau.tolist(), strict=True):
        for j in jets:
            for t in taus:
                dphi = math.remainder(j["phi"] - t["phi"], TWO_PI)
                best = min(best, abs(math.hypot(j["eta"] - t["eta"], dphi) - LOOSE.jet_tau_dr_min))
    return best


# rotation-invariant CMS outputs and their tolerances (rtol, atol).  None of the 8 features is a raw
# angle (deltaPhiTauMet is a difference), so nothing is excluded; the variation's MET phi is
# checked separately (it rotates with the event).  mTauJet: sqrt(E^2 - p^2) turns float64 rounding
# of E^2 - p^2 (~1e-16 E^2) into up to ~1e-5 GeV at m -> 0; mt likewise through 1 - cos(dphi).
CMS_TOL: dict[str, tuple[float, float]] = {
    "aplanarity": (1e-9, 1e-12),
    "sphericity": (1e-9, 1e-12),
    "chargeEta": (0.0, 0.0),
    "MET_met": (1e-12, 1e-9),
    "deltaPhiTauMet": (1e-12, 1e-9),
    "mt": (1e-9, 1e-5),
    "mTauJet": (1e-9, 1e-4),
    "ht": (0.0, 0.0),
}
assert set(CMS_TOL) == set(FEATURE_NAMES)


def assert_features_close(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], where: str) -> None:
    for name, (rtol, atol) in CMS_TOL.items():
        np.testing.assert_allclose(b[name], a[name], rtol=rtol, atol=atol, err_msg=f"{where}: {name}")


def _features_of(events: ak.Array, signed_eta: bool = False) -> dict[str, np.ndarray]:
    """The 8 features of events with >= 1 tau: all their jets, the first tau, the stored MET."""
    return compute_features(events.Jet, events.Tau[:, 0], events.MET.pt, events.MET.phi, signed_eta=signed_eta)


# --------------------------------------------------------------------------- CMS: features


@CMS_FAST
@given(events=cms_events(max_events=8, min_taus=1), alpha=st.floats(-math.pi, math.pi))
def test_cms_features_are_rotation_and_reflection_invariant(events: ak.Array, alpha: float) -> None:
    """phi -> phi + alpha (wrapped), phi -> phi + 2 pi (unwrapped), phi -> -phi and eta -> -eta for
    the jets, the tau and the MET leave the 8 features unchanged; signed chargeEta flips with eta."""
    base = _features_of(transform_events(events))
    rotated = _features_of(transform_events(events, phi=lambda p: wrap_phi(p + alpha)))
    assert_features_close(base, rotated, f"alpha={alpha}")
    # unwrapped angles (outside [-pi, pi)) are the same directions
    assert_features_close(base, _features_of(transform_events(events, phi=lambda p: p + TWO_PI)), "phi + 2 pi")
    assert_features_close(base, _features_of(transform_events(events, phi=np.negative)), "phi -> -phi")
    flipped = transform_events(events, eta=np.negative)
    assert_features_close(base, _features_of(flipped), "eta -> -eta")
    signed = _features_of(transform_events(events), signed_eta=True)["chargeEta"]
    assert np.array_equal(_features_of(flipped, signed_eta=True)["chargeEta"], -signed)


@CMS_FAST
@given(events=cms_events(min_events=2, max_events=8, min_taus=1), data=st.data())
def test_cms_features_event_order_determinism(events: ak.Array, data: st.DataObject) -> None:
    """Permuting the events permutes the features bit for bit; two chunks equal one pass."""
    n = len(events)
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    base = _features_of(events)
    assert_exact({k: v[perm] for k, v in base.items()}, _features_of(permute_events(events, perm)), where="perm")
    cut = data.draw(st.integers(1, n - 1))
    a, b = _features_of(events[:cut]), _features_of(events[cut:])
    assert_exact(base, {k: np.concatenate([a[k], b[k]]) for k in base}, where="chunks")


# --------------------------------------------------------------------------- CMS: variations


@CMS_CHAIN
@given(events=cms_events(max_events=8), alpha=st.floats(-math.pi, math.pi))
def test_cms_variations_are_rotation_and_reflection_invariant(events: ak.Array, alpha: float) -> None:
    """Every shape variation commutes with a rotation and the reflections: same events selected,
    same shifted pT, features and weights; the recomputed MET rotated by alpha (mirrored by
    phi -> -phi).  JER's gen matching and hashed deviates see no absolute phi; the jet-tau
    cleaning sees a Delta phi; JES/JER tables use |eta|."""
    base_ev = transform_events(events)
    assume(cleaning_margin(base_ev) > 1e-9)  # no jet exactly on the Delta R = 0.4 cleaning cone
    assume(run_chain(base_ev, "nominal")["mask"].any())  # something to compare the features of
    others = {
        "rotated": (transform_events(events, phi=lambda p: wrap_phi(p + alpha)), lambda p: p + alpha),
        "-phi": (transform_events(events, phi=np.negative), np.negative),
        "-eta": (transform_events(events, eta=np.negative), lambda p: p),
    }
    for var in SHAPE_VARIATIONS:
        base, *rest = run_copies([base_ev, *(ev for ev, _ in others.values())], var)
        for (what, (_, phi_map)), other in zip(others.items(), rest, strict=True):
            where = f"{var} {what}"
            assert np.array_equal(base["mask"], other["mask"]), where
            # same selected jets (pT, flavour, b tag: no phi in them) -> same weights, bit for bit
            exact = ("jet_pt", "tau_pt", "n_jets", "event", *(k for k in base if k.startswith("weight_")))
            assert_exact(base, other, keys=exact, where=where)
            assert_features_close(base, other, where)
            np.testing.assert_allclose(other["met_pt"], base["met_pt"], rtol=1e-12, atol=1e-9, err_msg=where)
            assert_same_angle(other["met_phi"], phi_map(base["met_phi"]), atol=1e-9, err_msg=where)


@CMS_CHAIN
@given(events=cms_events(min_events=2, max_events=8), data=st.data())
def test_cms_variations_event_order_determinism(events: ak.Array, data: st.DataObject) -> None:
    """Permuting the events (ids along) permutes every variation's outputs bit for bit, the JER
    smearing included (its deviates are hashed from run/lumi/event/jet index); two chunks give
    what one pass gives."""
    assume(int(run_chain(events, "nominal")["mask"].sum()) >= 2)  # something to permute
    n = len(events)
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    shuffled = permute_events(events, perm)
    chunked = data.draw(st.sampled_from(SHAPE_VARIATIONS))
    for var in SHAPE_VARIATIONS:
        # both orders in one pass: a dependence on the position in the batch would differ between them
        base, other = run_copies([events, shuffled], var)
        assert_exact({k: base[k][perm] for k in _PER_EVENT}, other, keys=_PER_EVENT, where=var)
        # selected events come out in input order: row of event perm[i] among base's selected ones
        order = (np.cumsum(base["mask"]) - 1)[perm][base["mask"][perm]]
        selected = [k for k in base if k not in (*_PER_EVENT, "jet_pt", "tau_pt")]
        assert_exact({k: base[k][order] for k in selected}, other, keys=selected, where=var)
        if var == chunked:  # two chunks, one call each, give what one pass gives
            cut = data.draw(st.integers(1, n - 1))
            a, b = run_chain(events[:cut], var), run_chain(events[cut:], var)
            assert_exact(base, {k: np.concatenate([a[k], b[k]]) for k in base}, where=f"{var} chunks")


@CMS_FAST
@given(events=cms_events(min_events=1, max_events=4))
def test_cms_jer_factors_determinism_event_by_event(events: ak.Array) -> None:
    """JER factors of a batch = the factors of each event alone (nothing depends on neighbours);
    the same call twice gives the same factors; another seed changes only unmatched jets."""
    cfg = JERConfig()
    for which in ("nominal", "up", "down"):
        batch = jer_factors(events, events.Jet, which, cfg, seed=4)
        assert np.array_equal(batch, jer_factors(events, events.Jet, which, cfg, seed=4))
        alone = [jer_factors(events[i : i + 1], events[i : i + 1].Jet, which, cfg, seed=4) for i in range(len(events))]
        assert np.array_equal(batch, np.concatenate(alone)), which
    # matched jets (hybrid scaling) do not see the seed
    kind = np.array(_gen_kinds(events))
    a, b = jer_factors(events, events.Jet, "up", cfg, seed=4), jer_factors(events, events.Jet, "up", cfg, seed=5)
    assert np.array_equal(a[kind == "match"], b[kind == "match"])


def _gen_kinds(events: ak.Array) -> list[str]:
    """Per flat jet: 'match' when its gen jet passes Delta R < 0.2 and the pT window, else 'other'."""
    out = []
    for jets, gens in zip(events.Jet.tolist(), events.GenJet.tolist(), strict=True):
        for j in jets:
            g = gens[j["genJetIdx"]] if 0 <= j["genJetIdx"] < len(gens) else None
            ok = g is not None and math.hypot(j["eta"] - g["eta"], math.remainder(j["phi"] - g["phi"], TWO_PI)) < 0.2
            ok = ok and abs(j["pt"] - g["pt"]) < 0.3 * j["pt"]
            out.append("match" if ok else "other")
    return out


# --------------------------------------------------------------------------- CMS: zero shift


def _objects_equal(a: ShiftedObjects, b: ShiftedObjects) -> None:
    for coll in ("jets", "taus"):
        for key in ("pt", "mass", "eta", "phi"):
            x = ak.to_numpy(ak.flatten(getattr(a, coll)[key], axis=1))
            y = ak.to_numpy(ak.flatten(getattr(b, coll)[key], axis=1))
            assert x.dtype == y.dtype and np.array_equal(x, y), (coll, key)


def _zero_shifts(events: ak.Array) -> tuple[ShiftedObjects, dict[str, ShiftedObjects]]:
    """Nominal objects and the zero shifts applied to them: JES/TES coefficient 0, JER SF 1."""
    nom = nominal_objects(events, SYST)
    unit = JERConfig(sf_nominal=(1.0,) * 6, sf_up=(1.0,) * 6, sf_down=(1.0,) * 6)
    zero = {
        "jes_0": shift_jes(nom, 0.0, SYST.jes),
        "tes_0": shift_tes(nom, 0.0, SYST.tes),
        "tes_shift_0": shift_tes(nom, 1.0, TESConfig(shift=0.0)),
        "jer_sf_1": smear_jets(events, nom, "up", unit, SYST.seed),
    }
    return nom, zero


@CMS_FAST
@given(events=cms_events())
def test_cms_zero_shift_reproduces_nominal_objects_exactly_and_met_to_rounding(events: ak.Array) -> None:
    """A zero shift leaves every jet and tau bit for bit as it was; the MET to an ulp or so."""
    nom, zero = _zero_shifts(events)
    for name, objs in zero.items():
        _objects_equal(nom, objs)
        np.testing.assert_allclose(objs.met_pt, nom.met_pt, rtol=1e-15, atol=0, err_msg=name)  # a few ulp
        assert_same_angle(objs.met_phi, nom.met_phi, atol=1e-15, err_msg=name)


@settings(CMS_FAST, phases=NO_SHRINK)
@given(events=cms_events())
def test_cms_zero_shift_reproduces_nominal_met_exactly(events: ak.Array) -> None:
    """A zero shift gives the nominal MET (and so MET_met, mt, deltaPhiTauMet) bit for bit."""
    nom, zero = _zero_shifts(events)
    for name, objs in zero.items():
        assert np.array_equal(objs.met_pt, nom.met_pt), name
        assert np.array_equal(objs.met_phi, nom.met_phi), name


def test_cms_zero_met_keeps_its_phi_at_zero_shift() -> None:
    """Minimal reproducer: one event without objects, MET pt 0 at phi 2: the phi comes back as pi
    (deltaPhiTauMet of such an event would change by ~1.1 under a zero shift)."""
    no_objects = np.zeros(0)
    pt, phi = propagate_met(np.array([0.0]), np.array([2.0]), np.zeros(1, dtype=np.int64), no_objects, no_objects, no_objects)
    assert pt[0] == 0.0 and phi[0] == 2.0


def test_cms_jer_accepts_a_chunk_without_events() -> None:
    """JER (and so nominal_objects with nominal_jer) on zero events returns no factors."""
    events = ak.Array(
        {
            "run": [1], "luminosityBlock": [1], "event": [1],
            "Jet": [[{"pt": 30.0, "eta": 0.0, "phi": 0.0, "genJetIdx": -1}]],
            "GenJet": [[{"pt": 30.0, "eta": 0.0, "phi": 0.0}]],
        }
    )[:0]
    assert jer_factors(events, events.Jet, "nominal", JERConfig(), seed=0).shape == (0,)


@CMS_CHAIN
@given(events=cms_events())
def test_cms_zero_shift_variations_select_the_nominal_events(events: ak.Array) -> None:
    """A config with zero TES and zero JES uncertainty: tes_up/jes_down select exactly the nominal
    events with the nominal jets, non-MET features and weights bit for bit (MET ones to rounding)."""
    table = BinnedTable(abs_eta_edges=(0.0, 5.0), pt_edges=(0.0, np.inf), values=((0.0,),))
    cfg = replace(SYST, tes=TESConfig(shift=0.0), jes=JESConfig(uncertainty=table))
    nominal = run_chain(events, "nominal", cfg)
    assume(nominal["mask"].any())
    for var in ("tes_up", "tes_down", "jes_up", "jes_down"):
        got = run_chain(events, var, cfg)
        exact = [k for k in nominal if k not in ("MET_met", "mt", "deltaPhiTauMet", "met_pt", "met_phi")]
        assert_exact(nominal, got, keys=exact, where=var)
        assert_features_close(nominal, got, var)


# --------------------------------------------------------------------------- CMS: algebra


@CMS_FAST
@given(events=cms_events(), coefficient=st.floats(0.1, 3.0))
def test_cms_jes_tes_up_down_are_symmetric_about_nominal(events: ak.Array, coefficient: float) -> None:
    """pT(+c) + pT(-c) = 2 pT (float32 storage), and the MET vectors average to the nominal one."""
    nom = nominal_objects(events, SYST)
    pairs = {
        "jes": (shift_jes(nom, coefficient, SYST.jes), shift_jes(nom, -coefficient, SYST.jes), "jets"),
        "tes": (shift_tes(nom, coefficient, SYST.tes), shift_tes(nom, -coefficient, SYST.tes), "taus"),
    }
    for name, (up, down, coll) in pairs.items():
        pt0 = ak.to_numpy(ak.flatten(getattr(nom, coll).pt, axis=1)).astype(np.float64)
        pu = ak.to_numpy(ak.flatten(getattr(up, coll).pt, axis=1)).astype(np.float64)
        pd_ = ak.to_numpy(ak.flatten(getattr(down, coll).pt, axis=1)).astype(np.float64)
        np.testing.assert_allclose(pu + pd_, 2.0 * pt0, rtol=2e-7, err_msg=name)  # float32: ~6e-8 each
        assert np.all(pu >= pt0) and np.all(pd_ <= pt0), name
        # the MET: symmetric except where a jet crosses the 15 GeV propagation threshold one way only
        counts = ak.to_numpy(ak.num(getattr(nom, coll), axis=1))
        thr = SYST.jes.met_jet_pt_min if name == "jes" else -1.0
        near = (np.minimum(pt0, pd_) < thr + 0.5) & (np.maximum(pt0, pu) > thr - 0.5)
        ok = np.bincount(np.repeat(np.arange(len(counts)), counts), weights=near, minlength=len(counts)) == 0
        for trig in (np.cos, np.sin):
            avg = (up.met_pt * trig(up.met_phi) + down.met_pt * trig(down.met_phi)) / 2
            # float32 storage of the shifted pT: ~6e-8 of each object's pT
            np.testing.assert_allclose(
                avg[ok], (nom.met_pt * trig(nom.met_phi))[ok], atol=1e-6 * (1.0 + pt0.sum()), err_msg=name
            )


@CMS_FAST
@given(events=cms_events(), shift=st.floats(-0.5, 0.5).filter(lambda s: abs(s) > 1e-3))
def test_cms_tes_then_inverse_scale_gives_back_the_input(events: ak.Array, shift: float) -> None:
    """TES by (1 + s) then by 1 / (1 + s): tau pT, mass and MET back to float32 rounding."""
    nom = base_objects(events)
    there = shift_tes(nom, 1.0, TESConfig(shift=shift))
    back = shift_tes(there, 1.0, TESConfig(shift=1.0 / (1.0 + shift) - 1.0))
    for key in ("pt", "mass"):
        a = ak.to_numpy(ak.flatten(nom.taus[key], axis=1)).astype(np.float64)
        b = ak.to_numpy(ak.flatten(back.taus[key], axis=1)).astype(np.float64)
        # two float32 roundings; atol for subnormal float32 masses (hypothesis draws them)
        np.testing.assert_allclose(b, a, rtol=3e-7, atol=1e-6, err_msg=key)
    scale = 1e-6 * (1.0 + float(ak.sum(nom.taus.pt)))
    np.testing.assert_allclose(back.met_pt * np.cos(back.met_phi), nom.met_pt * np.cos(nom.met_phi), atol=scale)
    np.testing.assert_allclose(back.met_pt * np.sin(back.met_phi), nom.met_pt * np.sin(nom.met_phi), atol=scale)


@CMS_FAST
@given(events=cms_events())
def test_cms_jer_up_and_down_bracket_the_nominal_smearing(events: ak.Array) -> None:
    """Same deviates, SF_down <= SF_nominal <= SF_up: |f_down - 1| <= |f_nom - 1| <= |f_up - 1|, same sign."""
    cfg = JERConfig()
    f = {w: jer_factors(events, events.Jet, w, cfg, seed=8) - 1.0 for w in ("down", "nominal", "up")}
    tiny = 1e-12
    assert np.all(np.abs(f["down"]) <= np.abs(f["nominal"]) + tiny)
    assert np.all(np.abs(f["nominal"]) <= np.abs(f["up"]) + tiny)
    assert np.all(f["down"] * f["up"] >= 0.0) and np.all(f["nominal"] * f["up"] >= 0.0)


@CMS_FAST
@given(events=cms_events(), data=st.data())
def test_cms_btag_weights_do_not_depend_on_jet_order(events: ak.Array, data: st.DataObject) -> None:
    """Shuffling the jets inside each event keeps every b-tag weight (a product over the jets)."""
    jets = events.Jet
    seed = data.draw(st.integers(0, 2**16))
    keys = ak.unflatten(np.random.default_rng(seed).random(int(ak.sum(ak.num(jets)))), ak.num(jets))
    shuffled = jets[ak.argsort(keys, axis=1)]
    cfg = SYST.btag
    a = btag_event_weights(jets.hadronFlavour, jets.btagCSVV2, 0.8484, cfg)
    b = btag_event_weights(shuffled.hadronFlavour, shuffled.btagCSVV2, 0.8484, cfg)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-12, err_msg=k)


@CMS_FAST
@given(events=cms_events())
def test_cms_btag_zero_uncertainty_and_unit_sf_are_exact(events: ak.Array) -> None:
    """Zero SF uncertainties: the up/down weights are the nominal bit for bit; SF = 1: all weights 1."""
    jets = events.Jet
    no_unc = BTagConfig(sf={5: (0.95, 0.0), 4: (0.95, 0.0), 0: (1.1, 0.0)})
    w = btag_event_weights(jets.hadronFlavour, jets.btagCSVV2, 0.8484, no_unc)
    for k in ("btag_bc_up", "btag_bc_down", "btag_light_up", "btag_light_down"):
        assert np.array_equal(w[k], w["btag"]), k
    unit = BTagConfig(sf={5: (1.0, 0.0), 4: (1.0, 0.0), 0: (1.0, 0.0)})
    for k, v in btag_event_weights(jets.hadronFlavour, jets.btagCSVV2, 0.8484, unit).items():
        assert np.array_equal(v, np.ones(len(events))), k
