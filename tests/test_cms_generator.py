"""The built-in CMS NanoAOD generator: format (NanoEvents, dtypes of real NanoAOD), physics
(W/top mass peaks, b-tag and tau-ID rates, MET), determinism, pseudo-data bookkeeping, and a
comparison with the 200 real CMS 2015 NanoAOD events of the shared data folder."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from helpers import SHARED_DATA
from sysaware.cms.generator import physics as gp
from sysaware.cms.generator import nanoaod as G
from sysaware.cms.generator.detector import DetectorShifts, simulate

REAL_FILE = SHARED_DATA / "cms_opendata_2015_ttbar_nanoaod_200evts.root"


def _events(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NanoEventsFactory.from_root({str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager").events()


def _real_file() -> Path:
    if not REAL_FILE.is_file():
        pytest.skip(f"real CMS NanoAOD reference {REAL_FILE} not found (set SYSAWARE_SHARED)")
    return REAL_FILE


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small generated samples: skimmed and unskimmed ttbar, QCD, inclusive W+jets, and a folder
    from generate_sample_files (with pseudo-data)."""
    d = tmp_path_factory.mktemp("cmsgen")
    out = {
        "ttbar": G.write_sample(d / "ttbar.root", G.generate_process("ttbar", 3000, 11)),
        "ttbar_all": G.write_sample(d / "ttbar_all.root", G.generate_process("ttbar", 5000, 12, skim=None)),
        "qcd": G.write_sample(d / "qcd.root", G.generate_process("qcd", 500, 13)),
        "wjets_incl": G.write_sample(d / "w.root",
                                     G.generate_process("wjets", 5000, 14, skim=None, vjets_min_partons=0)),
    }
    truth = G.TrueNuisances(mu=1.2, jes=0.5, tes=-0.5)
    made = G.generate_sample_files(d / "set", {"ttbar": 300, "dy": 200}, seed=5, lumi_pb=2.0, truth=truth)
    out.update({f"set_{k}": v for k, v in made.items()})
    return out


def test_nanoevents_reads_collections_and_cross_references(files: dict[str, Path]) -> None:
    ev = _events(files["ttbar"])
    assert len(ev) == 3000
    assert ak.all(ak.num(ev.Tau.pt[ev.Tau.pt > 20]) >= 1)  # the skim
    assert ak.all(ak.num(ev.Jet[(ev.Jet.pt > 20) & (abs(ev.Jet.eta) < 2.5)]) >= 4)
    assert float(ak.min(ev.MET.pt)) >= 0 and len(ev.MET.pt) == 3000
    assert ev.HLT.LooseIsoPFTau50_Trk30_eta2p1.ndim == 1 and ak.mean(ev.PV.npvs) > 5
    # Jet -> GenJet via Jet_genJetIdx
    matched = ev.Jet.genJetIdx >= 0
    gen = ev.Jet.matched_gen
    assert ak.all(ak.is_none(gen, axis=1) == ~matched)
    dr = ev.Jet[matched].delta_r(gen[matched])
    assert float(ak.max(dr)) < 0.1
    # Tau -> GenPart (the tau lepton) for genuine taus; Tau -> Jet
    genuine = ev.Tau[ev.Tau.genPartFlav == 5]
    assert set(np.unique(np.abs(ak.flatten(genuine.matched_gen.pdgId)))) == {15}
    tj = ev.Tau.matched_jet
    ok = ~ak.is_none(tj, axis=1)
    assert float(ak.max(ev.Tau[ok].delta_r(tj[ok]))) < 0.2
    # GenPart mother/daughter structure: every W has a top (or antitop) parent and two daughters
    w = ev.GenPart[abs(ev.GenPart.pdgId) == 24]
    assert ak.all(abs(w.parent.pdgId) == 6)
    assert ak.all(ak.num(w.children, axis=2) == 2)
    assert ak.all(w.hasFlags(["isLastCopy", "isHardProcess"]))
    # leptons link to GenPart / jets
    mu = ev.Muon[ev.Muon.genPartFlav == 1]
    assert set(np.unique(np.abs(ak.flatten(mu.matched_gen.pdgId)))) <= {13}


def _branch_types(path: Path, tree: str = "Events") -> dict[str, tuple[str, str]]:
    with uproot.open(path) as f:
        return {k: (b.typename, str(b.interpretation)) for k, b in f[tree].items()}


@pytest.mark.parametrize("name", ["ttbar", "qcd", "set_data"])
def test_every_branch_has_the_name_and_dtype_of_real_nanoaod(files: dict[str, Path], name: str) -> None:
    real = _branch_types(_real_file())
    mine = _branch_types(files[name])
    unknown = sorted(set(mine) - set(real))
    assert not unknown, f"branches not in real NanoAOD: {unknown}"
    wrong = {k: (v, real[k]) for k, v in mine.items() if v != real[k]}
    assert not wrong, f"dtype differs from real NanoAOD: {wrong}"
    assert mine["nJet"][0] == "uint32_t" and mine["Tau_idMVAoldDM"][0] == "uint8_t[]"
    if name != "set_data":
        runs = _branch_types(files[name], "Runs")
        assert runs == {"run": ("uint32_t", "AsDtype('>u4')"), "genEventCount": ("int64_t", "AsDtype('>i8')"),
                        "genEventSumw": ("double", "AsDtype('>f8')"), "genEventSumw2": ("double", "AsDtype('>f8')")}
    else:
        assert not {"GenPart_pdgId", "genWeight", "Jet_hadronFlavour", "Tau_genPartFlav"} & set(mine)


def _mass(a, b, c=None):
    tot = a + b if c is None else a + b + c
    return np.asarray(ak.to_numpy(ak.drop_none(ak.flatten(tot.mass))), dtype=float)


def test_w_and_top_mass_peaks_from_genpart_and_matched_jets(files: dict[str, Path]) -> None:
    ev = _events(files["ttbar_all"])
    g = ev.GenPart
    from_w = ak.fill_none(abs(g.parent.pdgId) == 24, False)
    q = g[from_w & (abs(g.pdgId) < 5)]
    pairs = ak.combinations(q, 2)
    pairs = pairs[pairs["0"].genPartIdxMother == pairs["1"].genPartIdxMother]
    b = g[(abs(g.pdgId) == 5) & ak.fill_none(abs(g.parent.pdgId) == 6, False)]
    trip = ak.cartesian([pairs, b])
    trip = trip[trip["0"]["0"].parent.genPartIdxMother == trip["1"].genPartIdxMother]
    q1, q2, bq = trip["0"]["0"], trip["0"]["1"], trip["1"]
    m_w, m_t = _mass(q1, q2), _mass(q1, q2, bq)
    assert abs(np.median(m_w) - gp.M_W) < 0.5 and np.percentile(m_w, 84) - np.percentile(m_w, 16) < 6
    assert abs(np.median(m_t) - gp.M_TOP) < 1.0
    # the same with the reconstructed jets matched (Delta R < 0.3) to the quarks
    jets = ev.Jet
    j1, j2, jb = (x.nearest(jets, threshold=0.3) for x in (q1, q2, bq))
    mjj, mjjb = _mass(j1, j2), _mass(j1, j2, jb)
    mode_w = np.histogram(mjj, bins=np.arange(40, 121, 4))
    mode_t = np.histogram(mjjb, bins=np.arange(100, 251, 6))
    peak_w = mode_w[1][np.argmax(mode_w[0])] + 2
    peak_t = mode_t[1][np.argmax(mode_t[0])] + 3
    assert len(mjj) > 1000 and 70 < peak_w < 88 and 70 < np.median(mjj) < 88
    assert 155 < peak_t < 182 and 155 < np.median(mjjb) < 185
    width = np.percentile(mjj, 75) - np.percentile(mjj, 25)
    assert 5 < width < 25  # jet energy resolution visible in the peak


def test_btag_efficiencies_at_the_csvv2_medium_working_point(files: dict[str, Path]) -> None:
    ev = _events(files["ttbar_all"])
    j = ev.Jet[(ev.Jet.pt > 30) & (abs(ev.Jet.eta) < 2.4) & (ev.Jet.partonFlavour != 0)]
    tagged = ak.flatten(j.btagCSVV2 > 0.8484)
    flav = ak.flatten(j.hadronFlavour)
    eff = {f: float(ak.mean(tagged[flav == f])) for f in (5, 4, 0)}
    assert 0.63 < eff[5] < 0.72, eff
    assert 0.08 < eff[4] < 0.17, eff
    assert 0.008 < eff[0] < 0.025, eff
    outside = ev.Jet[abs(ev.Jet.eta) > 2.4]
    assert ak.all(ak.flatten(outside.btagCSVV2) == -10)


def test_tau_identification_and_jet_fake_rates(files: dict[str, Path]) -> None:
    ev = _events(files["ttbar_all"])
    vis = ev.GenVisTau[(ev.GenVisTau.pt > 20) & (abs(ev.GenVisTau.eta) < 2.3)]
    tau = ev.Tau[(ev.Tau.pt > 20) & ev.Tau.idDecayMode & ((ev.Tau.idMVAoldDM & 4) != 0)]
    eff = ak.sum(ak.num(tau[tau.genPartFlav == 5])) / ak.sum(ak.num(vis))
    assert 0.5 < eff < 0.7
    jets = ev.Jet[(ev.Jet.pt > 20) & (abs(ev.Jet.eta) < 2.3) & (ev.Jet.partonFlavour != 0)]
    fake = ak.sum(ak.num(tau[tau.genPartFlav == 0])) / ak.sum(ak.num(jets))
    assert 0.003 < fake < 0.012
    assert set(np.unique(ak.flatten(ev.Tau.decayMode))) <= {0, 1, 5, 6, 10, 11}
    bits = np.unique(ak.flatten(ev.Tau.idMVAoldDM))
    assert set(bits) <= {0, 1, 3, 7, 15, 31, 63}


def test_met_is_the_neutrinos_plus_resolution(files: dict[str, Path]) -> None:
    ev = _events(files["ttbar_all"])
    met, gen = ev.MET, ev.GenMET
    dx = np.asarray(met.pt * np.cos(met.phi) - gen.pt * np.cos(gen.phi))
    dy = np.asarray(met.pt * np.sin(met.phi) - gen.pt * np.sin(gen.phi))
    assert abs(dx.mean()) < 1.0 and abs(dy.mean()) < 1.0
    assert 10 < dx.std() < 35
    # |MET| - |GenMET| is biased up by the resolution where GenMET is small, unbiased where it is large
    large = np.asarray(gen.pt) > 80
    assert abs(float(np.mean(np.asarray(met.pt - gen.pt)[large]))) < 5
    assert np.corrcoef(np.asarray(met.pt), np.asarray(gen.pt))[0, 1] > 0.7
    # resolution grows with sumEt
    hi = np.asarray(met.sumEt) > np.median(np.asarray(met.sumEt))
    assert dx[hi].std() > dx[~hi].std()


def test_same_seed_same_events_other_seed_other_events() -> None:
    a, b = G.generate_process("ttbar", 300, 3), G.generate_process("ttbar", 300, 3)
    c = G.generate_process("ttbar", 300, 4)
    assert a.gen_event_count == b.gen_event_count
    for k, v in a.collections.items():
        assert ak.array_equal(ak.Array(v), ak.Array(b.collections[k])), k
    assert not ak.array_equal(ak.Array(a.collections["Jet"]).pt, ak.Array(c.collections["Jet"]).pt)


def test_detector_truth_shifts_scale_jets_and_taus() -> None:
    truth = gp.gen_ttbar(np.random.default_rng(1), 2000)
    nom = simulate(truth, np.random.default_rng(2), is_data=True, shifts=DetectorShifts())
    up = simulate(truth, np.random.default_rng(2), is_data=True, shifts=DetectorShifts(jes=2.0, tes=1.0))

    def lead(reco, name):
        c = reco.collections[name]
        first = (np.cumsum(c.counts) - c.counts)[c.counts > 0]
        return c.fields["pt"][first], reco.collections[name].fields.get("genPartFlav", None)

    jr = lead(up, "Jet")[0] / lead(nom, "Jet")[0]
    assert 1.01 < np.median(jr) < 1.07 and np.all((jr > 0.999) & (jr < 1.2))
    t_nom, t_up = nom.collections["Tau"], up.collections["Tau"]
    assert np.sum(t_up.fields["pt"] > 45) > np.sum(t_nom.fields["pt"] > 45)


def test_pseudo_data_files_truth_and_bookkeeping(files: dict[str, Path]) -> None:
    truth = json.loads(files["set_truth"].read_text())
    assert (truth["mu"], truth["jes"], truth["tes"], truth["lumi_pb"]) == (1.2, 0.5, -0.5, 2.0)
    assert set(truth["n_events_by_process"]) == set(G.MC_PROCESSES)
    assert sum(truth["n_events_by_process"].values()) == truth["n_events"] > 0
    samples = json.loads(files["set_samples"].read_text())
    assert samples["weight_formula"] == "xsec_pb * lumi_pb * genWeight / genEventSumw"
    for proc in ("ttbar", "dy"):
        meta = samples["processes"][proc]
        with uproot.open(files[f"set_{proc}"]) as f:
            runs = f["Runs"].arrays(library="np")
            n = f["Events"].num_entries
            sumw = float(np.sum(f["Events"]["genWeight"].array(library="np"), dtype=float))
        assert runs["genEventCount"][0] == meta["genEventCount"] >= n == meta["n_events"]
        # every generated event weighs 1 before the generator filter and the skim
        assert runs["genEventSumw"][0] == meta["genEventSumw"] == runs["genEventCount"][0]
        assert meta["xsec_pb"] == G.PROCESSES[proc].xsec_pb
        assert sumw <= runs["genEventSumw"][0] + 1e-6
    ev = _events(files["set_data"])
    assert len(ev) == truth["n_events"] and "GenPart" not in ev.fields and "genWeight" not in ev.fields
    assert len(np.unique(np.asarray(ev.event))) == len(ev)


def test_filtered_sample_weights_reproduce_the_inclusive_cross_section() -> None:
    """W + jets with >= 3 partons: sum of xsec * genWeight / genEventSumw over events with >= 3
    partons equals the inclusive sample's (physical cross section, standard NanoAOD formula)."""
    filt = G.generate_process("wjets", 4000, 21, skim=None)
    incl = G.generate_process("wjets", 40000, 22, skim=None, vjets_min_partons=0)

    def xsec_with_3_partons(s: G.GeneratedSample) -> float:
        gp_ = ak.Array(s.collections["GenPart"])
        n = ak.to_numpy(ak.sum((gp_.status == 23) & (gp_.genPartIdxMother == -1) & (gp_.pt > 20), axis=1))
        w = np.asarray(s.collections["genWeight"], dtype=float)
        return G.PROCESSES["wjets"].xsec_pb * float(np.sum(w[n >= 3])) / s.gen_event_sumw

    a, b = xsec_with_3_partons(filt), xsec_with_3_partons(incl)
    assert a == pytest.approx(b, rel=0.15)
    with pytest.raises(ValueError, match="lumi_pb <="):
        G.generate_process("data", None, 1, lumi_pb=1e5)


def test_generated_events_compared_with_real_2015_nanoaod(files: dict[str, Path]) -> None:
    """The 200-event "ttbar" reference slice holds W -> l nu + jets events (no top quark in
    GenPart), so it is compared with the inclusive W + jets model; ttbar must look different."""
    real = _events(_real_file())
    pdg = abs(ak.flatten(real.GenPart.pdgId))
    assert ak.sum(pdg == 6) == 0 and ak.sum(pdg == 24) > 0
    w = _events(files["wjets_incl"])
    tt = _events(files["ttbar_all"])

    def nj30(e):
        return float(ak.mean(ak.num(e.Jet[e.Jet.pt > 30])))

    assert 0.6 * nj30(real) < nj30(w) < 1.5 * nj30(real)
    assert 0.7 * ak.mean(ak.num(real.Jet)) < ak.mean(ak.num(w.Jet)) < 1.3 * ak.mean(ak.num(real.Jet))
    for e in (w, tt):
        ratio = np.median(ak.flatten(e.Tau.pt)) / np.median(ak.flatten(real.Tau.pt))
        assert 1 / 1.5 < ratio < 1.5
    assert 1 / 1.5 < np.median(w.MET.pt) / np.median(real.MET.pt) < 1.5
    assert abs(ak.mean(w.PV.npvs) - ak.mean(real.PV.npvs)) < 2
    assert nj30(tt) > 3 * nj30(real)
    n30 = ak.num(w.Jet[(w.Jet.pt > 30) & (abs(w.Jet.eta) < 2.4)])
    assert ak.mean(n30 >= 4) < 0.03  # W + jets: >= 4 jets is rare
