"""Ingestion, selection, features and variations on 200 real CMS 2015 ttbar NanoAOD events.

Every check compares the columnar code with an independent per-event Python loop over the raw
uproot arrays (math/numpy only).  The selection is loosened so that events survive in 200 ttbar
events: no trigger, >= 1 jet, tau pT > 20 with decay-mode finding only, no MET or b-tag cut.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import uproot

from helpers import SHARED_DATA
from sysaware.cms.ingestion.ingest import bare_read_sample, ingest_sample, required_branches
from sysaware.cms.ingestion.nanoevents import iterate_events
from sysaware.cms.objects.corrections import DEFAULT_JES_TABLE, TESConfig
from sysaware.cms.objects.features import FEATURE_NAMES
from sysaware.cms.objects.selection import CUT_NAMES, SelectionConfig, select_events
from sysaware.cms.objects.variations import SHAPE_VARIATIONS, SystematicsConfig

NANO = SHARED_DATA / "cms_opendata_2015_ttbar_nanoaod_200evts.root"

LOOSE = SelectionConfig(
    triggers=(),
    n_jets_min=1,
    n_lead_jets_min=0,
    tau_pt_min=20.0,
    tau_iso_wp=0,
    tau_anti_ele_wp=0,
    tau_anti_mu_wp=0,
    met_min=15.0,
    n_btag_min=0,
)
RAW_NOMINAL = SystematicsConfig(nominal_jer=False)  # nominal jets as stored: plain reference


@pytest.fixture(scope="module")
def nano_file() -> Path:
    if not NANO.is_file():
        pytest.skip(f"real NanoAOD sample {NANO} not found (set SYSAWARE_SHARED to the shared folder)")
    return NANO


@pytest.fixture(scope="module")
def rows(nano_file: Path) -> list[dict]:
    """The raw branches, one plain dict per event."""
    names = [*required_branches(LOOSE), "run", "luminosityBlock", "event", "LHEScaleWeight", "LHEPdfWeight"]
    arrays = uproot.open(nano_file)["Events"].arrays(names)
    return arrays.to_list()


@pytest.fixture(scope="module")
def result(nano_file: Path):
    return ingest_sample("ttbar_real", [nano_file], selection=LOOSE, systematics=RAW_NOMINAL, step_size=200)


def _jes_unc(pt: float, abs_eta: float) -> float:
    t = DEFAULT_JES_TABLE
    ie = min(max(bisect.bisect_right(t.abs_eta_edges, abs_eta) - 1, 0), len(t.values) - 1)
    ip = min(max(bisect.bisect_right(t.pt_edges, pt) - 1, 0), len(t.values[0]) - 1)
    return t.values[ie][ip]


def _dphi(a: float, b: float) -> float:
    return math.atan2(math.sin(a - b), math.cos(a - b))


def _reference(rows: list[dict], cfg: SelectionConfig, jes: float = 0.0, tes: float = 0.0):
    """Plain-loop selection + features with optional JES (sigma) / TES (fraction) shifts.

    Returns ({(run, lumi, event): {feature: value, "jets": [...]}}, cutflow event counts).
    """
    out: dict[tuple[int, int, int], dict] = {}
    flow = dict.fromkeys(CUT_NAMES, 0)
    for ev in rows:
        mex = ev["MET_pt"] * math.cos(ev["MET_phi"])
        mey = ev["MET_pt"] * math.sin(ev["MET_phi"])
        jets = []
        for k in range(len(ev["Jet_pt"])):
            pt, eta, phi = ev["Jet_pt"][k], ev["Jet_eta"][k], ev["Jet_phi"][k]
            f = 1.0 + jes * _jes_unc(pt, abs(eta))
            new = pt * f
            if pt > 15.0 or new > 15.0:
                mex -= (new - pt) * math.cos(phi)
                mey -= (new - pt) * math.sin(phi)
            jets.append(dict(idx=k, pt=new, eta=eta, phi=phi, mass=ev["Jet_mass"][k] * f, jetId=ev["Jet_jetId"][k], btag=ev["Jet_btagCSVV2"][k]))
        taus = []
        for k in range(len(ev["Tau_pt"])):
            pt, phi = ev["Tau_pt"][k], ev["Tau_phi"][k]
            f = 1.0 + tes if ev["Tau_genPartFlav"][k] == 5 else 1.0  # TES on genuine taus only
            new = pt * f
            mex -= (new - pt) * math.cos(phi)
            mey -= (new - pt) * math.sin(phi)
            taus.append(dict(pt=new, eta=ev["Tau_eta"][k], phi=phi, mass=ev["Tau_mass"][k] * f, charge=ev["Tau_charge"][k], dm=ev["Tau_idDecayMode"][k], genuine=ev["Tau_genPartFlav"][k] == 5))
        met, metphi = math.hypot(mex, mey), math.atan2(mey, mex)

        sel_taus = [t for t in taus if t["pt"] > cfg.tau_pt_min and abs(t["eta"]) < cfg.tau_abs_eta_max and t["dm"]]
        sel_jets = [
            j
            for j in jets
            if j["pt"] > cfg.jet_pt_min
            and abs(j["eta"]) < cfg.jet_abs_eta_max
            and (j["jetId"] & 2) == 2
            and all(math.hypot(j["eta"] - t["eta"], _dphi(j["phi"], t["phi"])) > 0.4 for t in sel_taus)
        ]
        veto = any(
            ev["Electron_pt"][k] > 10 and abs(ev["Electron_eta"][k]) < 2.5 and ev["Electron_cutBased"][k] >= 2
            for k in range(len(ev["Electron_pt"]))
        ) or any(
            ev["Muon_pt"][k] > 10 and abs(ev["Muon_eta"][k]) < 2.5 and ev["Muon_looseId"][k] and ev["Muon_pfRelIso03_all"][k] < 0.15
            for k in range(len(ev["Muon_pt"]))
        )
        passed = [
            ("all", True),
            ("trigger", True),
            ("n_jets", len(sel_jets) >= cfg.n_jets_min),
            ("n_lead_jets", True),
            ("one_tau", len(sel_taus) == 1),
            ("lepton_veto", not veto),
            ("met", met > cfg.met_min),
            ("btag", True),
        ]
        ok = True
        for name, p in passed:
            ok = ok and p
            flow[name] += int(ok)
        if not ok:
            continue
        tau = sel_taus[0]
        objs = [*sel_jets, tau]
        vecs = [(o["pt"] * math.cos(o["phi"]), o["pt"] * math.sin(o["phi"]), o["pt"] * math.sinh(o["eta"])) for o in objs]
        tensor = np.zeros((3, 3))
        for v in vecs:
            tensor += np.outer(v, v)
        lam = sorted(np.linalg.eigvalsh(tensor / np.trace(tensor)), reverse=True)
        e = sum(math.sqrt(sum(c * c for c in v) + o["mass"] ** 2) for v, o in zip(vecs, objs, strict=True))
        p = [sum(v[c] for v in vecs) for c in range(3)]
        dphi = _dphi(tau["phi"], metphi)
        out[(ev["run"], ev["luminosityBlock"], ev["event"])] = {
            "ht": sum(j["pt"] for j in sel_jets) + tau["pt"],
            "mt": math.sqrt(2 * tau["pt"] * met * (1 - math.cos(dphi))),
            "MET_met": met,
            "deltaPhiTauMet": abs(dphi),
            "chargeEta": tau["charge"] * abs(tau["eta"]),
            "mTauJet": math.sqrt(max(e * e - sum(c * c for c in p), 0.0)),
            "sphericity": 1.5 * (lam[1] + lam[2]),
            "aplanarity": 1.5 * lam[2],
            "jets": sel_jets,
            "tau_pt": tau["pt"],
            "tau_genuine": tau["genuine"],
        }
    return out, flow


def _by_id(arrays: dict[str, np.ndarray]) -> dict[tuple[int, int, int], int]:
    ids = zip(arrays["run"].tolist(), arrays["luminosityBlock"].tolist(), arrays["event"].tolist(), strict=True)
    return {key: i for i, key in enumerate(ids)}


@pytest.mark.parametrize(("variation", "jes", "tes"), [("nominal", 0.0, 0.0), ("jes_up", 1.0, 0.0), ("jes_down", -1.0, 0.0), ("tes_up", 0.0, 0.03), ("tes_down", 0.0, -0.03)])
def test_nanoaod_real_features_match_plain_loop(result, rows, variation: str, jes: float, tes: float) -> None:
    ref, flow = _reference(rows, LOOSE, jes=jes, tes=tes)
    arrays = result.arrays[variation]
    index = _by_id(arrays)
    assert set(index) == set(ref), variation
    assert len(ref) >= 10  # enough real events survive the loose selection
    assert {k: v["events"] for k, v in result.cutflows[variation].items()} == flow
    for key, feats in ref.items():
        i = index[key]
        for name in FEATURE_NAMES:
            assert arrays[name][i] == pytest.approx(feats[name], rel=2e-5, abs=2e-5), (variation, key, name)
        assert arrays["n_jets"][i] == len(feats["jets"])


def test_nanoaod_real_tes_met_recomputation(result, rows) -> None:
    """MET_x' = MET_x - (s - 1) sum tau_px (genuine taus, genPartFlav 5) for TES up, event by event."""
    up = result.arrays["tes_up"]
    s = 1.0 + TESConfig().shift
    checked = 0
    raw = {(ev["run"], ev["luminosityBlock"], ev["event"]): ev for ev in rows}
    for key, i in _by_id(up).items():
        ev = raw[key]
        genuine = [(p, f) for p, f, g in zip(ev["Tau_pt"], ev["Tau_phi"], ev["Tau_genPartFlav"], strict=True) if g == 5]
        mx = ev["MET_pt"] * math.cos(ev["MET_phi"]) - (s - 1) * sum(p * math.cos(f) for p, f in genuine)
        my = ev["MET_pt"] * math.sin(ev["MET_phi"]) - (s - 1) * sum(p * math.sin(f) for p, f in genuine)
        assert up["MET_met"][i] == pytest.approx(math.hypot(mx, my), rel=1e-5)
        checked += 1
    assert checked >= 10
    # paired with nominal by event id: same jets, only the tau pT grows by 3 %
    nom = result.arrays["nominal"]
    nidx = _by_id(nom)
    ref, _ = _reference(rows, LOOSE)
    paired = shifted = 0
    for key, i in _by_id(up).items():
        if key in nidx:
            j = nidx[key]
            assert up["n_jets"][i] == nom["n_jets"][j]
            expected = (s - 1) * ref[key]["tau_pt"] if ref[key]["tau_genuine"] else 0.0
            assert up["ht"][i] - nom["ht"][j] == pytest.approx(expected, rel=1e-4, abs=1e-4)
            paired += 1
            shifted += ref[key]["tau_genuine"]
    assert paired >= 10 and shifted >= 3  # genuine taus move, fakes do not


def test_nanoaod_real_jes_pairs_share_event_ids(result) -> None:
    nom, up, down = (result.arrays[v] for v in ("nominal", "jes_up", "jes_down"))
    n_idx, u_idx, d_idx = _by_id(nom), _by_id(up), _by_id(down)
    common = set(n_idx) & set(u_idx)
    assert len(common) >= 0.8 * len(n_idx)
    for key in common:
        # jets only go up: HT can only grow (extra jets may enter)
        assert up["ht"][u_idx[key]] >= nom["ht"][n_idx[key]] - 1e-4
        assert up["chargeEta"][u_idx[key]] == nom["chargeEta"][n_idx[key]]  # same tau
    for key in set(n_idx) & set(d_idx):
        assert down["ht"][d_idx[key]] <= nom["ht"][n_idx[key]] + 1e-4
    for v in SHAPE_VARIATIONS:  # the ids are unique within each variation
        assert len(_by_id(result.arrays[v])) == result.arrays[v]["event"].shape[0]


def test_nanoaod_real_cutflows_monotonic(result) -> None:
    assert tuple(result.variations) == SHAPE_VARIATIONS
    for var, flow in result.cutflows.items():
        assert list(flow) == list(CUT_NAMES)
        ev = [c["events"] for c in flow.values()]
        w = [c["weighted"] for c in flow.values()]
        assert ev[0] == 200 == result.n_events_read
        assert all(a >= b for a, b in zip(ev, ev[1:], strict=False)), var
        assert all(a >= b - 1e-6 * abs(a) for a, b in zip(w, w[1:], strict=False)), var  # genWeight > 0 here
        assert ev[-1] == result.n_selected(var)


def test_nanoaod_real_weights_match_plain_loop(result, rows) -> None:
    nom = result.arrays["nominal"]
    raw = {(ev["run"], ev["luminosityBlock"], ev["event"]): ev for ev in rows}
    assert result.sum_gen_weight == pytest.approx(sum(ev["genWeight"] for ev in rows), rel=1e-9)
    ref, _ = _reference(rows, LOOSE)
    cfg = RAW_NOMINAL.btag
    for key, i in _by_id(nom).items():
        ev = raw[key]
        assert nom["weight_gen"][i] == pytest.approx(ev["genWeight"])
        sw = [ev["LHEScaleWeight"][k] for k in (0, 1, 3, 5, 7, 8)]
        assert nom["weight_scale_up"][i] == pytest.approx(max(sw)) and nom["weight_scale_down"][i] == pytest.approx(min(sw))
        reps = ev["LHEPdfWeight"][:100]
        mean = sum(reps) / len(reps)
        std = math.sqrt(sum((r - mean) ** 2 for r in reps) / (len(reps) - 1))
        assert nom["weight_pdf_up"][i] == pytest.approx(1 + std, rel=1e-6)
        # b-tag weight from the selected jets of the reference
        pmc = pdata = 1.0
        for j in ref[key]["jets"]:
            fl = abs(ev["Jet_hadronFlavour"][j["idx"]])
            fl = fl if fl in (4, 5) else 0
            eff, sf = cfg.efficiencies[fl], cfg.sf[fl][0]
            tagged = j["btag"] > LOOSE.btag_wp
            pmc *= eff if tagged else 1 - eff
            pdata *= sf * eff if tagged else 1 - sf * eff
        assert nom["weight_btag"][i] == pytest.approx(pdata / pmc, rel=1e-9)
        assert nom["weight"][i] == pytest.approx(ev["genWeight"] * pdata / pmc, rel=1e-6)


def test_nanoaod_real_jer_is_chunking_independent(nano_file) -> None:
    """Default config (nominal JER on): the same numbers whatever the chunk size."""
    a = ingest_sample("ttbar_real", [nano_file], selection=LOOSE, step_size=200, variations=("nominal", "jer_up", "jer_down"))
    b = ingest_sample("ttbar_real", [nano_file], selection=LOOSE, step_size=70, variations=("nominal", "jer_up", "jer_down"))
    assert a.cutflows == b.cutflows
    for var in a.arrays:
        for k, v in a.arrays[var].items():
            np.testing.assert_allclose(b.arrays[var][k], v, rtol=1e-12, atol=0, err_msg=f"{var}/{k}")
    # smearing really moved the jets (against the unsmeared nominal of a RAW_NOMINAL run)
    raw = ingest_sample("ttbar_real", [nano_file], selection=LOOSE, systematics=RAW_NOMINAL, step_size=200, variations=("nominal",))
    common = set(_by_id(raw.arrays["nominal"])) & set(_by_id(a.arrays["nominal"]))
    ia, ir = _by_id(a.arrays["nominal"]), _by_id(raw.arrays["nominal"])
    diffs = [a.arrays["nominal"]["ht"][ia[k]] - raw.arrays["nominal"]["ht"][ir[k]] for k in common]
    assert any(abs(d) > 1e-3 for d in diffs)


def test_nanoaod_real_bare_read(nano_file) -> None:
    stats = bare_read_sample([nano_file], selection=LOOSE)
    assert stats.n_events == 200 and stats.n_bytes > 0 and stats.events_per_second > 0
    assert stats.n_branches == len({*required_branches(LOOSE), "run", "luminosityBlock", "event", "LHEScaleWeight", "LHEPdfWeight"})


def test_nanoaod_real_as_data_and_measured_btag_efficiencies(nano_file, result) -> None:
    """Data mode: nominal only, unit weights, unsmeared jets; MC with efficiencies measured on the sample."""
    data = ingest_sample("ttbar_as_data", [nano_file], selection=LOOSE, is_mc=False)
    assert data.variations == ("nominal",)
    assert np.all(data.arrays["nominal"]["weight"] == 1.0)
    for name in FEATURE_NAMES:  # no JER on data: identical to the unsmeared MC nominal
        np.testing.assert_allclose(data.arrays["nominal"][name], result.arrays["nominal"][name], rtol=1e-12)
    with pytest.raises(ValueError, match="data"):
        ingest_sample("ttbar_as_data", [nano_file], selection=LOOSE, is_mc=False, variations=("jes_up",))

    measured = SystematicsConfig(nominal_jer=False, btag=replace(RAW_NOMINAL.btag, measure_efficiencies=True))
    m = ingest_sample("ttbar_real", [nano_file], selection=LOOSE, systematics=measured, variations=("nominal",))
    eff = m.btag_efficiencies
    assert set(eff) == {0, 4, 5} and all(0.0 <= e <= 1.0 for e in eff.values())
    assert eff != dict(RAW_NOMINAL.btag.efficiencies)
    np.testing.assert_allclose(m.arrays["nominal"]["ht"], result.arrays["nominal"]["ht"])  # weights only


def test_nanoaod_real_trigger_or(nano_file, rows) -> None:
    paths = ("HLT_LooseIsoPFTau50_Trk30_eta2p1", "HLT_PFMETNoMu90_JetIdCleaned_PFMHTNoMu90_IDTight")
    cfg = replace(LOOSE, triggers=paths)
    raw = uproot.open(nano_file)["Events"].arrays(list(paths))
    expected = int(np.sum(np.logical_or(*(raw[p].to_numpy() for p in paths))))
    ((_, events),) = list(iterate_events([nano_file], cfg.required_branches(), step_size=200))
    res = select_events(events, cfg)
    assert expected >= 2 and res.cutflow.events["trigger"] == expected
    assert res.cutflow.events["all"] == 200
