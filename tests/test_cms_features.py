"""Unit tests of the CMS tau+jets features, JER determinism and ingestion error reporting.

Features are checked against independent per-event calculations (math/numpy loops) on small
hand-made events; the ingestion is run on tiny NanoAOD-like files written with uproot.
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import uproot

from sysaware.cms.ingestion.ingest import ingest_sample
from sysaware.cms.ingestion.nanoevents import IngestionError, chunk_ranges, iterate_events
from sysaware.cms.objects.corrections import DEFAULT_JES_TABLE, JERConfig
from sysaware.cms.objects.features import FEATURE_NAMES, compute_features, momentum_tensor_eigenvalues
from sysaware.cms.objects.selection import SelectionConfig
from sysaware.cms.objects.variations import (
    MC_BRANCHES,
    SystematicsConfig,
    btag_event_weights,
    hashed_normal,
    jer_factors,
)

# --------------------------------------------------------------------------- helpers


def _jets(rows: list[list[tuple[float, float, float, float]]]) -> ak.Array:
    """Jagged jets from per-event lists of (pt, eta, phi, mass)."""
    return ak.Array([[{"pt": p, "eta": e, "phi": f, "mass": m} for (p, e, f, m) in ev] for ev in rows])


def _taus(rows: list[tuple[float, float, float, float, int]]) -> ak.Array:
    return ak.Array([{"pt": p, "eta": e, "phi": f, "mass": m, "charge": q} for (p, e, f, m, q) in rows])


def _p3(pt: float, eta: float, phi: float) -> tuple[float, float, float]:
    return pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)


def _ptetaphi(px: float, py: float, pz: float) -> tuple[float, float, float]:
    pt = math.hypot(px, py)
    return pt, math.asinh(pz / pt), math.atan2(py, px)


def _ref_shape(vectors: list[tuple[float, float, float]]) -> tuple[float, float]:
    """Sphericity, aplanarity by an explicit tensor and numpy.linalg.eigvalsh."""
    s = np.zeros((3, 3))
    norm = 0.0
    for v in vectors:
        s += np.outer(v, v)
        norm += float(np.dot(v, v))
    lam = sorted(np.linalg.eigvalsh(s / norm), reverse=True)
    return 1.5 * (lam[1] + lam[2]), 1.5 * lam[2]


# --------------------------------------------------------------------------- features


def test_planar_event_has_zero_aplanarity() -> None:
    jets = _jets([[(50.0, 0.0, 0.3, 5.0), (40.0, 0.0, 2.0, 4.0), (30.0, 0.0, -2.0, 3.0)]])
    f = compute_features(jets, _taus([(45.0, 0.0, 1.0, 1.0, 1)]), [30.0], [0.5])
    assert f["aplanarity"][0] == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < f["sphericity"][0] <= 0.75 + 1e-12  # planar events: S <= 3/4


def test_isotropic_event_has_unit_sphericity() -> None:
    # the 8 vertices of a cube (7 jets + the tau): S^ab = I/3
    verts = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    pte = [_ptetaphi(*(10.0 * c for c in v)) for v in verts]
    jets = _jets([[(pt, eta, phi, 0.0) for pt, eta, phi in pte[:7]]])
    tau = _taus([(pte[7][0], pte[7][1], pte[7][2], 0.0, -1)])
    f = compute_features(jets, tau, [10.0], [0.0])
    assert f["sphericity"][0] == pytest.approx(1.0, abs=1e-9)
    assert f["aplanarity"][0] == pytest.approx(0.5, abs=1e-9)
    # six axis vectors directly through the tensor function
    px = ak.Array([[1.0, -1.0, 0.0, 0.0, 0.0, 0.0]])
    py = ak.Array([[0.0, 0.0, 1.0, -1.0, 0.0, 0.0]])
    pz = ak.Array([[0.0, 0.0, 0.0, 0.0, 1.0, -1.0]])
    np.testing.assert_allclose(momentum_tensor_eigenvalues(px, py, pz)[0], [1 / 3] * 3, atol=1e-12)


def test_linear_event_has_zero_sphericity() -> None:
    jets = _jets([[(60.0, 0.7, 1.2, 0.0)]])
    tau = _taus([(60.0, -0.7, 1.2 - math.pi, 0.0, 1)])
    f = compute_features(jets, tau, [1.0], [0.0])
    assert f["sphericity"][0] == pytest.approx(0.0, abs=1e-12)
    assert f["aplanarity"][0] == pytest.approx(0.0, abs=1e-12)


def test_back_to_back_met_gives_mt_two_sqrt_pt_met() -> None:
    tau_pt, met = 50.0, 32.0
    jets = _jets([[(30.0, 0.1, 0.0, 2.0)]])
    f = compute_features(jets, _taus([(tau_pt, 0.4, 0.7, 1.2, 1)]), [met], [0.7 - math.pi])
    assert f["mt"][0] == pytest.approx(2.0 * math.sqrt(tau_pt * met), rel=1e-12)
    assert f["deltaPhiTauMet"][0] == pytest.approx(math.pi, rel=1e-12)
    # collinear MET: mT = 0, Delta phi = 0
    g = compute_features(jets, _taus([(tau_pt, 0.4, 0.7, 1.2, 1)]), [met], [0.7])
    assert g["mt"][0] == pytest.approx(0.0, abs=1e-6)
    assert g["deltaPhiTauMet"][0] == pytest.approx(0.0, abs=1e-12)


def test_features_match_plain_loop_on_random_events() -> None:
    rng = np.random.default_rng(7)
    jet_rows, tau_rows, mets, mphis = [], [], [], []
    for _ in range(40):
        nj = int(rng.integers(0, 7))
        jet_rows.append(
            [
                (float(rng.uniform(20, 200)), float(rng.uniform(-2.4, 2.4)), float(rng.uniform(-math.pi, math.pi)), float(rng.uniform(0, 20)))
                for _ in range(nj)
            ]
        )
        tau_rows.append(
            (float(rng.uniform(20, 150)), float(rng.uniform(-2.3, 2.3)), float(rng.uniform(-math.pi, math.pi)), float(rng.uniform(0.1, 1.7)), int(rng.choice([-1, 1])))
        )
        mets.append(float(rng.uniform(0, 300)))
        mphis.append(float(rng.uniform(-math.pi, math.pi)))
    f = compute_features(_jets(jet_rows), _taus(tau_rows), mets, mphis)
    assert set(f) == set(FEATURE_NAMES)
    for i in range(40):
        tpt, teta, tphi, tm, tq = tau_rows[i]
        vecs = [_p3(pt, eta, phi) for pt, eta, phi, _ in jet_rows[i]] + [_p3(tpt, teta, tphi)]
        sph, apl = _ref_shape(vecs)
        e = px = py = pz = 0.0
        for (pt, eta, phi, m), v in zip([*jet_rows[i], (tpt, teta, tphi, tm)], vecs, strict=True):
            e += math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2 + m**2)
            px, py, pz = px + v[0], py + v[1], pz + v[2]
        dphi = math.atan2(math.sin(tphi - mphis[i]), math.cos(tphi - mphis[i]))
        ref = {
            "sphericity": sph,
            "aplanarity": apl,
            "ht": sum(j[0] for j in jet_rows[i]) + tpt,
            "mt": math.sqrt(2 * tpt * mets[i] * (1 - math.cos(dphi))),
            "mTauJet": math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)),
            "deltaPhiTauMet": abs(dphi),
            "chargeEta": tq * abs(teta),
            "MET_met": mets[i],
        }
        for k, v in ref.items():
            assert f[k][i] == pytest.approx(v, rel=1e-9, abs=1e-9), (k, i)
    signed = compute_features(_jets(jet_rows), _taus(tau_rows), mets, mphis, signed_eta=True)
    np.testing.assert_allclose(signed["chargeEta"], [q * eta for _, eta, _, _, q in tau_rows])


def test_btag_weight_matches_plain_product() -> None:
    cfg = SystematicsConfig().btag
    flav = ak.Array([[5, 0, 4], [0, 0], [5]])
    disc = ak.Array([[0.95, 0.1, 0.9], [0.2, 0.99], [0.3]])
    w = btag_event_weights(flav, disc, 0.8484, cfg)
    for i, (fl, ds) in enumerate(zip(flav.tolist(), disc.tolist(), strict=True)):
        pmc = pdata = 1.0
        for f_, d in zip(fl, ds, strict=True):
            k = f_ if f_ in (4, 5) else 0
            eff, sf = cfg.efficiencies[k], cfg.sf[k][0]
            pmc *= eff if d > 0.8484 else 1 - eff
            pdata *= sf * eff if d > 0.8484 else 1 - sf * eff
        assert w["btag"][i] == pytest.approx(pdata / pmc, rel=1e-12)
    assert w["btag_light_up"][2] == pytest.approx(w["btag"][2])  # only a b jet: light shift inert
    assert w["btag_bc_up"][1] == pytest.approx(w["btag"][1])  # only light jets: bc shift inert


def test_jes_table_lookup_edges() -> None:
    t = DEFAULT_JES_TABLE
    got = t.lookup(np.array([10.0, 25.0, 1e4, 60.0]), np.array([0.0, 1.29, 9.0, 2.2]))
    assert got.tolist() == [t.values[0][0], t.values[0][0], t.values[4][4], t.values[2][2]]


# --------------------------------------------------------------------------- JER determinism


def test_hashed_normal_is_deterministic_and_chunk_independent() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    run = rng.integers(1, 300_000, n)
    lumi = rng.integers(1, 3_000_000, n)
    event = rng.integers(0, 2**40, n).astype(np.uint64)
    idx = rng.integers(0, 12, n)
    z = hashed_normal(11, run, lumi, event, idx)
    assert np.array_equal(z, hashed_normal(11, run, lumi, event, idx))
    pieces = [hashed_normal(11, run[a:b], lumi[a:b], event[a:b], idx[a:b]) for a, b in chunk_ranges(n, 777)]
    assert np.array_equal(np.concatenate(pieces), z)
    perm = rng.permutation(n)
    assert np.array_equal(hashed_normal(11, run[perm], lumi[perm], event[perm], idx[perm]), z[perm])
    assert not np.array_equal(hashed_normal(12, run, lumi, event, idx), z)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05


# --------------------------------------------------------------------------- tiny NanoAOD files


def _tiny_nanoaod(
    path, n: int = 30, seed: int = 3, with_taus: bool = True, drop: tuple[str, ...] = (), first_event: int = 1000
) -> None:
    """A small NanoAOD-like file with every branch the ingestion reads (MC)."""
    rng = np.random.default_rng(seed)
    nj = rng.integers(4, 8, n)
    ntau = np.ones(n, dtype=np.int64) if with_taus else np.zeros(n, dtype=np.int64)

    def jag(counts, values):
        return ak.unflatten(values, counts)

    tot, ttot = int(nj.sum()), int(ntau.sum())
    jet = {
        "pt": jag(nj, rng.uniform(25, 150, tot).astype(np.float32)),
        "eta": jag(nj, rng.uniform(-2.3, 2.3, tot).astype(np.float32)),
        "phi": jag(nj, rng.uniform(-np.pi, np.pi, tot).astype(np.float32)),
        "mass": jag(nj, rng.uniform(2, 15, tot).astype(np.float32)),
        "jetId": jag(nj, np.full(tot, 6, dtype=np.int32)),
        "btagCSVV2": jag(nj, rng.uniform(0, 1, tot).astype(np.float32)),
        "hadronFlavour": jag(nj, rng.choice([0, 4, 5], tot).astype(np.int32)),
    }
    # gen jets: near copies of the first ngen jets (some far off in pT: unmatched by the window);
    # the other jets point nowhere (-1) or, as seen in real files, past the stored gen jets
    ngen = rng.integers(0, nj + 1)
    first = ak.local_index(jet["pt"]) < ngen
    gtot = int(ngen.sum())
    gscale = np.where(rng.uniform(size=gtot) < 0.8, rng.normal(1.0, 0.08, gtot), 2.0)
    genjet = {
        "pt": jag(ngen, (ak.to_numpy(ak.flatten(jet["pt"][first])) * gscale).astype(np.float32)),
        "eta": jag(ngen, (ak.to_numpy(ak.flatten(jet["eta"][first])) + rng.normal(0, 0.05, gtot)).astype(np.float32)),
        "phi": jag(ngen, (ak.to_numpy(ak.flatten(jet["phi"][first])) + rng.normal(0, 0.05, gtot)).astype(np.float32)),
        "mass": jag(ngen, np.full(gtot, 5.0, dtype=np.float32)),
    }
    far = ak.unflatten(rng.choice([-1, 1], tot), nj)
    jet["genJetIdx"] = ak.values_astype(
        ak.where(first, ak.local_index(jet["pt"]), ak.where(far > 0, ngen + 1, -1)), np.int32
    )
    tau = {
        "pt": jag(ntau, rng.uniform(50, 120, ttot).astype(np.float32)),
        "eta": jag(ntau, rng.uniform(-2.0, 2.0, ttot).astype(np.float32)),
        "phi": jag(ntau, rng.uniform(-np.pi, np.pi, ttot).astype(np.float32)),
        "mass": jag(ntau, rng.uniform(0.2, 1.5, ttot).astype(np.float32)),
        "charge": jag(ntau, rng.choice([-1, 1], ttot).astype(np.int32)),
        "idDecayMode": jag(ntau, np.ones(ttot, dtype=bool)),
        "idMVAoldDM": jag(ntau, np.full(ttot, 63, dtype=np.uint8)),
        "idAntiEle": jag(ntau, np.full(ttot, 31, dtype=np.uint8)),
        "idAntiMu": jag(ntau, np.full(ttot, 3, dtype=np.uint8)),
        "genPartFlav": jag(ntau, rng.choice([0, 5], ttot).astype(np.uint8)),
    }
    zero = np.zeros(n, dtype=np.int64)
    f32, i32 = np.zeros(0, np.float32), np.zeros(0, np.int32)
    lep = {k: jag(zero, f32) for k in ("pt", "eta", "phi", "mass")} | {"charge": jag(zero, i32)}
    ele = lep | {"cutBased": jag(zero, i32)}
    mu = lep | {"looseId": jag(zero, np.zeros(0, bool)), "pfRelIso03_all": jag(zero, f32)}
    tree: dict[str, object] = {
        "run": np.ones(n, dtype=np.uint32),
        "luminosityBlock": np.full(n, 7, dtype=np.uint32),
        "event": np.arange(first_event, first_event + n, dtype=np.uint64),
        "MET_pt": rng.uniform(25, 100, n).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "genWeight": np.ones(n, dtype=np.float32),
        "HLT_LooseIsoPFTau50_Trk30_eta2p1": np.ones(n, dtype=bool),
    }
    for name, coll in (("Jet", jet), ("GenJet", genjet), ("Tau", tau), ("Electron", ele), ("Muon", mu)):
        fields = {k: v for k, v in coll.items() if f"{name}_{k}" not in drop}
        tree[name] = ak.zip(fields)
    tree = {k: v for k, v in tree.items() if k not in drop}
    with uproot.recreate(path) as f:
        f.mktree("Events", tree)  # a TTree (plain assignment would write an RNTuple)


_EASY = SelectionConfig(n_lead_jets_min=0, n_btag_min=0, jet_tau_dr_min=0.0)


def test_jer_smearing_independent_of_chunk_size(tmp_path) -> None:
    path = tmp_path / "tiny.root"
    _tiny_nanoaod(path, n=30)
    cfg = SystematicsConfig(seed=5)
    kw = dict(selection=_EASY, variations=("nominal", "jer_up", "jer_down", "jes_up"))
    a = ingest_sample("tiny", [path], systematics=cfg, step_size=30, **kw)
    b = ingest_sample("tiny", [path], systematics=cfg, step_size=11, **kw)
    assert a.n_selected() > 10
    for var in ("nominal", "jer_up", "jer_down", "jes_up"):
        assert set(a.arrays[var]) == set(b.arrays[var])
        for k, v in a.arrays[var].items():
            np.testing.assert_allclose(b.arrays[var][k], v, rtol=1e-12, atol=0, err_msg=f"{var}/{k}")
    assert a.cutflows == b.cutflows
    c = ingest_sample("tiny", [path], systematics=cfg.with_seed(6), step_size=30, **kw)
    ha, hc = a.arrays["jer_up"]["ht"], c.arrays["jer_up"]["ht"]
    assert ha.shape != hc.shape or not np.allclose(ha, hc)  # the seed matters


def test_jer_factors_match_plain_loop(tmp_path) -> None:
    """Hybrid JER against a per-jet loop on the raw branches: scaling when gen-matched, else stochastic."""
    path = tmp_path / "tiny.root"
    _tiny_nanoaod(path, n=40)
    cfg = JERConfig()
    raw = uproot.open(path)["Events"].arrays()
    (_, events), = list(iterate_events([path], list(MC_BRANCHES) + ["Jet_eta", "Jet_phi", "Jet_pt"], step_size=100))
    for which, table in (("nominal", cfg.sf_nominal), ("up", cfg.sf_up), ("down", cfg.sf_down)):
        got = jer_factors(events, events.Jet, which, cfg, seed=9)
        k = 0
        n_matched = n_stoch = 0
        for i in range(len(raw)):
            for j in range(int(raw.nJet[i])):
                pt, eta, phi = float(raw.Jet_pt[i][j]), float(raw.Jet_eta[i][j]), float(raw.Jet_phi[i][j])
                ie = max(b for b in range(len(table)) if abs(eta) >= cfg.abs_eta_edges[b])
                s = table[ie]
                idx = int(raw.Jet_genJetIdx[i][j])
                matched = False
                if 0 <= idx < int(raw.nGenJet[i]):
                    gpt, geta, gphi = (float(raw[f"GenJet_{c}"][i][idx]) for c in ("pt", "eta", "phi"))
                    dphi = math.atan2(math.sin(phi - gphi), math.cos(phi - gphi))
                    matched = math.hypot(eta - geta, dphi) < 0.2 and abs(pt - gpt) < 3 * 0.1 * pt
                if matched:
                    ref = 1 + (s - 1) * (pt - gpt) / pt
                    n_matched += 1
                else:
                    z = hashed_normal(9, np.array([raw.run[i]]), np.array([raw.luminosityBlock[i]]), np.array([raw.event[i]]), np.array([j]))[0]
                    ref = max(1 + z * 0.1 * math.sqrt(max(s * s - 1, 0.0)), 0.0)
                    n_stoch += 1
                assert got[k] == pytest.approx(ref, rel=1e-6), (which, i, j)
                k += 1
        assert k == len(got) and n_matched > 20 and n_stoch > 20


def test_two_files_equal_the_files_one_by_one(tmp_path) -> None:
    a_path, b_path = tmp_path / "a.root", tmp_path / "b.root"
    _tiny_nanoaod(a_path, n=12, seed=1, first_event=100)
    _tiny_nanoaod(b_path, n=9, seed=2, first_event=200)
    kw = dict(selection=_EASY, variations=("nominal", "tes_up"), step_size=7)
    both = ingest_sample("ab", [a_path, b_path], **kw)
    a, b = ingest_sample("a", [a_path], **kw), ingest_sample("b", [b_path], **kw)
    assert both.n_events_read == 21
    for var in ("nominal", "tes_up"):
        for k, v in both.arrays[var].items():
            np.testing.assert_allclose(v, np.concatenate([a.arrays[var][k], b.arrays[var][k]]), rtol=1e-12, err_msg=k)
        for cut, c in both.cutflows[var].items():
            assert c["events"] == a.cutflows[var][cut]["events"] + b.cutflows[var][cut]["events"]


# --------------------------------------------------------------------------- bad inputs


def test_missing_file_raises_naming_it(tmp_path) -> None:
    missing = tmp_path / "no_such_file.root"
    with pytest.raises(IngestionError, match="no_such_file.root"):
        ingest_sample("s", [missing])


def test_corrupt_file_raises_naming_it(tmp_path) -> None:
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"this is not a ROOT file" * 50)
    with pytest.raises(IngestionError, match="junk.root"):
        ingest_sample("s", [junk])


def test_file_without_events_tree_raises(tmp_path) -> None:
    path = tmp_path / "other_tree.root"
    with uproot.recreate(path) as f:
        f.mktree("Other", {"x": np.arange(3.0)})
    with pytest.raises(IngestionError, match=r"other_tree.root has no 'Events' tree"):
        ingest_sample("s", [path])


def test_missing_branch_raises_naming_branch_and_file(tmp_path) -> None:
    good = tmp_path / "good.root"
    bad = tmp_path / "no_tau_pt.root"
    _tiny_nanoaod(good)
    _tiny_nanoaod(bad, drop=("Tau_pt",))
    with pytest.raises(IngestionError) as info:
        ingest_sample("s", [good, bad])  # the bad file is second: checked before processing
    msg = str(info.value)
    assert "Tau_pt" in msg and "no_tau_pt.root" in msg and "good.root" not in msg


def test_missing_trigger_branch_is_named(tmp_path) -> None:
    path = tmp_path / "tiny.root"
    _tiny_nanoaod(path)
    with pytest.raises(IngestionError, match="HLT_QuadJet45_IsoPFTau45"):
        ingest_sample("s", [path], selection=SelectionConfig(triggers=("HLT_QuadJet45_IsoPFTau45",)))


def test_zero_selected_events_raises_naming_sample(tmp_path) -> None:
    path = tmp_path / "notau.root"
    _tiny_nanoaod(path, with_taus=False)
    with pytest.raises(IngestionError, match="'ttbar_empty'.*no event passes"):
        ingest_sample("ttbar_empty", [path], selection=_EASY, step_size=16, variations=("nominal", "jes_up"))
