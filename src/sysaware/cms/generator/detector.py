"""Detector response of the built-in NanoAOD generator: particle-level :class:`~.physics.Truth`
to reconstructed NanoAOD collections (flat columns plus per-event counts).

Models (all vectorised, seeded): gen jets from partons (out-of-cone response) and from visible
taus and prompt leptons; jet energy resolution ``sqrt((N/pT)^2 + S^2/pT + C^2)``; pileup jets;
CSVv2/DeepCSV discriminants per hadron flavour; hadronic-tau reconstruction with decay-mode
migrations, isolation MVA working points and anti-lepton discriminators; jet -> tau, e -> tau and
mu -> tau fakes; prompt and non-prompt (heavy-flavour) electrons and muons with identification
and isolation; MET = neutrinos + object mismeasurement + an unclustered term growing with sumEt;
a few HLT bits emulated from the reconstructed objects.  Pseudo-data get the true detector shifts
(:class:`DetectorShifts`).  See ``docs/cms_generator.md`` for the numbers and what is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from ..objects.corrections import DEFAULT_JES_TABLE, BinnedTable, JERConfig, TESConfig
from .physics import GENVISTAU_PT_MIN, Truth

# ---------------------------------------------------------------------------- parameters

#: Jet energy resolution terms: noise [GeV], stochastic [sqrt(GeV)], constant; forward (|eta| > 2.5) x 1.25.
JER_N, JER_S, JER_C, JER_FORWARD = 2.5, 1.0, 0.04, 1.25
#: b-tag latent-score (mean, width) per hadron flavour; discriminant = Phi(score).
#: CSVv2: P(> 0.8484) = 0.67 (b), 0.12 (c), 0.015 (light).  DeepCSV: P(> 0.6321) = 0.70, 0.12, 0.01.
CSV_LATENT = {5: (1.82, 1.80), 4: (-0.145, 1.0), 0: (-1.227, 1.04)}
DEEP_LATENT = {5: (1.20, 1.60), 4: (-0.838, 1.0), 0: (-1.99, 1.0)}
BTAG_CORRELATION = 0.8
#: Tau isolation MVA working-point thresholds (VLoose..VVTight) on a latent score that is N(0, 1)
#: for genuine taus (efficiencies 0.90 0.80 0.70 0.60 0.50 0.40) and N(-2.3, 1) for jet fakes.
TAU_ISO_THRESHOLDS = np.array([-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533])
TAU_FAKE_ISO_MEAN = -2.3
#: Probability that a jet yields a tau candidate (decay-mode finding), by parton type, at 40 GeV.
TAU_CAND_PROB = {"quark": 0.30, "gluon": 0.16, "heavy": 0.20}
TAU_GENUINE_CAND_PROB = 0.95
#: Probability that a prompt electron / muon yields a tau candidate (2015 NanoAOD keeps many).
TAU_LEPTON_CAND_PROB = {11: 0.40, 13: 0.60}
TAU_ANTI_ELE_THRESHOLDS = np.array([-2.326, -1.881, -1.405, -1.036, -0.674])
TAU_ANTI_MU_THRESHOLDS = np.array([-2.576, -2.326])
#: Reco decay-mode migration: generator mode -> probabilities over RECO_DM.
RECO_DM = np.array([0, 1, 5, 6, 10, 11])
DM_MIGRATION = {
    0: [0.90, 0.07, 0.03, 0.0, 0.0, 0.0],
    1: [0.12, 0.80, 0.0, 0.04, 0.04, 0.0],
    2: [0.03, 0.87, 0.0, 0.05, 0.05, 0.0],
    10: [0.0, 0.02, 0.05, 0.0, 0.85, 0.08],
    11: [0.0, 0.0, 0.0, 0.05, 0.35, 0.60],
}
DM_FAKE = [0.25, 0.30, 0.05, 0.05, 0.25, 0.10]
TAU_RESOLUTION = {0: 0.05, 1: 0.07, 5: 0.08, 6: 0.08, 10: 0.06, 11: 0.08}
#: Non-prompt lepton probability per jet by hadron flavour (b, c, light) for electrons and muons
#: (light-jet "electrons" are mostly misidentified hadrons and conversions).
NONPROMPT_LEPTON_PROB = {11: {5: 0.15, 4: 0.08, 0: 0.015}, 13: {5: 0.15, 4: 0.08, 0: 0.003}}
#: Electron Fall17V2 relative-isolation cuts (veto, loose, medium, tight), plus a/pT for medium/tight.
ELE_ISO_CUTS = ((0.198, 0.0), (0.112, 0.0), (0.0478, 0.506), (0.0287, 0.506))


@dataclass(frozen=True)
class DetectorShifts:
    """True detector shifts applied to pseudo-data (zero for simulation).

    ``jes``: jet pT x ``1 + jes * u(pT, |eta|)`` with ``u`` from ``jes_table`` (the analysis' JES
    uncertainty).  ``tes``: genuine hadronic-tau pT x ``1 + tes * tes_unc``.  ``jer``: jet
    resolution x the JER scale factor interpolated between nominal (0) and up/down (+-1) of
    ``jer_config`` (``None``: no JER scale factor, i.e. data resolution = simulation).
    """

    jes: float = 0.0
    tes: float = 0.0
    jer: float | None = None
    jes_table: BinnedTable = DEFAULT_JES_TABLE
    tes_unc: float = TESConfig().shift
    jer_config: JERConfig = field(default_factory=JERConfig)

    def jer_factor(self, abs_eta: np.ndarray) -> np.ndarray:
        """Resolution multiplier per jet."""
        if self.jer is None:
            return np.ones_like(abs_eta)
        c = self.jer_config
        nom = c.scale_factor("nominal", abs_eta)
        other = c.scale_factor("up" if self.jer >= 0 else "down", abs_eta)
        return nom + abs(self.jer) * (other - nom)


@dataclass
class Coll:
    """A jagged collection: per-event ``counts`` and flat ``fields`` (ordered by event)."""

    counts: np.ndarray
    fields: dict[str, np.ndarray]


@dataclass
class Reco:
    """Simulated events: jagged collections, per-event scalar branches, the extra event weight
    from forced tau fakes (1 where not forced) and the ttbar signal truth (not written)."""

    collections: dict[str, Coll]
    scalars: dict[str, np.ndarray]
    weight: np.ndarray
    is_signal: np.ndarray


def _sort_local(evt: np.ndarray, pt: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order by (event, -pT); returns (order, per-event index of each original item, counts)."""
    order = np.argsort(evt * 8192.0 + (8191.0 - np.clip(pt, 0.0, 8190.0)))
    counts = np.bincount(evt, minlength=n)
    pos = np.empty(len(evt), dtype=np.int64)
    pos[order] = np.arange(len(evt))
    return order, pos - (np.cumsum(counts) - counts)[evt], counts


def _choice(rng: np.random.Generator, values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-item choice with per-item probability rows ``probs`` (k, m)."""
    c = np.cumsum(probs, axis=1)
    idx = (rng.uniform(0, 1, len(probs))[:, None] * c[:, -1:] > c).sum(axis=1)
    return values[np.minimum(idx, len(values) - 1)]


def _bits(score: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative bitmask (1, 3, 7, ...) of the thresholds passed."""
    return ((1 << (score[:, None] > thresholds[None, :]).sum(axis=1)) - 1).astype(np.int64)


def _dphi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def jet_resolution(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """Relative jet pT resolution of the simulation."""
    s = np.sqrt((JER_N / pt) ** 2 + JER_S**2 / pt + JER_C**2)
    return np.where(abs_eta > 2.5, JER_FORWARD * s, s)


def btag_scores(rng: np.random.Generator, hflav: np.ndarray, pt: np.ndarray, abs_eta: np.ndarray,
                shift: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(CSVv2, DeepCSV) per jet; -10 / -1 outside the tracker (|eta| > 2.4)."""
    f = np.where(hflav == 5, 5, np.where(hflav == 4, 4, 0))
    u = rng.normal(0, 1, len(f))
    v = BTAG_CORRELATION * u + np.sqrt(1 - BTAG_CORRELATION**2) * rng.normal(0, 1, len(f))
    # efficiency falls slowly at low and high pT
    pt_term = -0.25 * np.clip((30.0 - pt) / 15.0, 0, 1) - 0.3 * np.clip((pt - 150.0) / 300.0, 0, 1)
    out = []
    for table, z in ((CSV_LATENT, u), (DEEP_LATENT, v)):
        mu = np.select([f == 5, f == 4], [table[5][0], table[4][0]], table[0][0])
        sd = np.select([f == 5, f == 4], [table[5][1], table[4][1]], table[0][1])
        out.append(ndtr(mu + pt_term + shift + sd * z))
    outside = abs_eta > 2.4
    return np.where(outside, -10.0, out[0]), np.where(outside, -1.0, out[1])


# ---------------------------------------------------------------------------- tau candidates


def _tau_outcomes(rng: np.random.Generator, p_cand: np.ndarray, iso_mean: np.ndarray, pt: np.ndarray,
                  eta: np.ndarray, mode: np.ndarray, is_jet: np.ndarray,
                  pt_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate flag, isolation score and pT fraction per source.

    ``mode``: 0 unconditional, 1 conditioned on "success" (candidate, VLoose isolation, tau pT >
    ``pt_min``, |eta| < 2.3), 2 conditioned on failure.  Jets give a tau of pT fraction U(0.55, 1); other
    sources a fraction 1 (their smearing is applied later).
    """
    k = len(p_cand)
    c = rng.uniform(0, 1, k) < p_cand
    s = iso_mean + rng.normal(0, 1, k)
    f = np.where(is_jet, rng.uniform(0.55, 1.0, k), 1.0)
    succ = mode == 1
    if succ.any():
        a = ndtr(TAU_ISO_THRESHOLDS[0] - iso_mean[succ])
        s[succ] = iso_mean[succ] + ndtri(a + rng.uniform(0, 1, succ.sum()) * (1 - a))
        lo = np.maximum(0.55, pt_min / pt[succ])
        f[succ] = np.where(is_jet[succ], rng.uniform(lo, 1.0), 1.0)
        c[succ] = True
    todo = np.nonzero(mode == 2)[0]
    for _ in range(200):
        success = (c[todo] & (s[todo] > TAU_ISO_THRESHOLDS[0]) & (f[todo] * pt[todo] > pt_min)
                   & (np.abs(eta[todo]) < 2.3))
        bad = todo[success]
        if not len(bad):
            break
        c[bad] = rng.uniform(0, 1, len(bad)) < p_cand[bad]
        s[bad] = iso_mean[bad] + rng.normal(0, 1, len(bad))
        f[bad] = np.where(is_jet[bad], rng.uniform(0.55, 1.0, len(bad)), 1.0)
        todo = bad
    return c, s, f


def _success_probability(p_cand: np.ndarray, iso_mean: np.ndarray, pt: np.ndarray, eta: np.ndarray,
                         pt_min: float) -> np.ndarray:
    """P(candidate & VLoose & pT > pt_min & |eta| < 2.3) of jet sources (pT fraction U(0.55, 1))."""
    frac = np.clip((1.0 - np.maximum(0.55, pt_min / np.maximum(pt, 1e-9))) / 0.45, 0.0, 1.0)
    return p_cand * ndtr(iso_mean - TAU_ISO_THRESHOLDS[0]) * frac * (np.abs(eta) < 2.3)


def force_one_success(rng: np.random.Generator, evt: np.ndarray, p: np.ndarray,
                      n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample per-source modes so that each event has at least one success (exactly).

    Sources are sorted by event with success probabilities ``p``.  The first success is drawn from
    ``p_j prod_{i<j}(1 - p_i) / w`` with ``w = 1 - prod(1 - p)``; earlier sources are conditioned on
    failure, later ones unconditioned.  Returns (mode per source, weight ``w`` per event).
    """
    if len(evt) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(n)
    counts = np.bincount(evt, minlength=n)
    start = (np.cumsum(counts) - counts)[evt]
    logq = np.log1p(-np.minimum(p, 1 - 1e-12))
    cl = np.cumsum(logq)
    cl_before = np.concatenate([[0.0], cl])[start]
    pi = p * np.exp(cl - logq - cl_before)
    cp = np.cumsum(pi)
    cp_within = cp - np.concatenate([[0.0], cp])[start]
    last = np.cumsum(counts) - 1
    w = np.zeros(n)
    has = counts > 0
    w[has] = cp_within[last[has]]
    u = rng.uniform(0, 1, n) * w
    above = cp_within > u[evt]
    rank = np.arange(len(evt)) - start
    first = np.where(above, rank, np.iinfo(np.int64).max)
    chosen = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(chosen, evt, first)
    ch = chosen[evt]
    mode = np.where(rank < ch, 2, np.where(rank == ch, 1, 0))
    return mode, w


# ---------------------------------------------------------------------------- main entry


def simulate(truth: Truth, rng: np.random.Generator, *, is_data: bool = False, shifts: DetectorShifts | None = None,
             force_tau_fake: float | None = None) -> Reco:
    """Reconstruct ``truth``: NanoAOD collections and scalars (MC truth collections unless ``is_data``).

    ``force_tau_fake`` (a pT threshold): every event gets at least one jet -> tau fake passing VLoose
    isolation above that pT (exact conditional sampling); its probability is returned as the weight.
    """
    sh = shifts or DetectorShifts()
    n = truth.n
    ev = np.arange(n)
    # ---- pileup
    n_true = rng.gamma(8.0, 11.7 / 8.0, n)
    n_pu = rng.poisson(n_true)
    npvs = 1 + rng.binomial(n_pu, 0.82)
    npvs_good = npvs - rng.binomial(npvs - 1, 0.03)
    rho = np.maximum(0.7 * npvs + rng.normal(0.5, 1.0, n), 0.0)

    # ---- gen jets: partons, visible taus, prompt leptons
    P, T, L = truth.partons, truth.taus, truth.leptons
    n_p, n_t, n_l = len(P["evt"]), len(T["evt"]), len(L["evt"])
    kind = np.concatenate([np.zeros(n_p, int), np.ones(n_t, int), np.where(np.abs(L["pdgId"]) == 11, 2, 3)])
    s_evt = np.concatenate([P["evt"], T["evt"], L["evt"]]).astype(np.int64)
    s_pt = np.concatenate([P["pt"], T["pt"], L["pt"]])
    s_eta = np.concatenate([P["eta"], T["eta"], L["eta"]])
    s_phi = np.concatenate([P["phi"], T["phi"], L["phi"]])
    s_pdg = np.concatenate([P["pdgId"], np.zeros(n_t + n_l, int)])
    s_hf = np.concatenate([P["hflav"], np.zeros(n_t + n_l, int)])
    k = len(kind)
    is_parton = kind == 0
    resp_mean = np.where(s_hf == 5, 0.95, np.where(np.abs(s_pdg) == 21, 0.93, 0.97))
    gj_pt = s_pt * np.where(is_parton, np.clip(rng.normal(resp_mean, 0.06, k), 0.3, None), 1.0)
    gj_eta = s_eta + np.where(is_parton, rng.normal(0, 0.015, k), 0.0)
    gj_phi = s_phi + np.where(is_parton, rng.normal(0, 0.015, k), 0.0)
    m_frac = np.where(s_hf == 5, 0.14, np.where(np.abs(s_pdg) == 21, 0.13, 0.10))
    gj_mass = np.where(is_parton, gj_pt * m_frac * rng.lognormal(0, 0.4, k),
                       np.concatenate([np.zeros(n_p), T["mass"], np.zeros(n_l)]))
    gj_store = (gj_pt > 10.0) & (np.abs(gj_eta) < 5.0)
    gsel = np.nonzero(gj_store)[0]
    g_order, g_local, g_counts = _sort_local(s_evt[gsel], gj_pt[gsel], n)
    src_genjet = np.full(k, -1, dtype=np.int64)
    src_genjet[gsel] = g_local

    # ---- reco jets
    lep_jet = kind >= 2
    sigma = np.where(lep_jet, 0.03, jet_resolution(np.maximum(gj_pt, 1.0), np.abs(gj_eta)))
    if is_data:
        sigma = sigma * sh.jer_factor(np.abs(gj_eta))
    pt_nom = gj_pt * np.clip(1.0 + sigma * rng.normal(0, 1, k), 0.05, None)
    eta_j = gj_eta + rng.normal(0, 0.01, k)
    phi_j = gj_phi + rng.normal(0, 0.01, k)
    mass_nom = gj_mass * np.clip(1.0 + 0.1 * rng.normal(0, 1, k), 0.1, None)
    # pileup jets
    n_puj = rng.poisson(0.11 * npvs)
    pe = np.repeat(ev, n_puj)
    m_pu = len(pe)
    pu_pt = 12.0 + rng.exponential(5.5, m_pu)
    pu_eta = rng.uniform(-4.7, 4.7, m_pu)
    j_evt = np.concatenate([s_evt, pe])
    j_pt_nom = np.concatenate([pt_nom, pu_pt])
    j_eta = np.concatenate([eta_j, pu_eta])
    j_phi = np.concatenate([phi_j, rng.uniform(-np.pi, np.pi, m_pu)])
    j_mass_nom = np.concatenate([mass_nom, pu_pt * rng.uniform(0.05, 0.2, m_pu)])
    jes = 1.0 + (sh.jes * sh.jes_table.lookup(j_pt_nom, np.abs(j_eta)) if is_data else 0.0)
    j_pt, j_mass = j_pt_nom * jes, j_mass_nom * jes
    nj = len(j_evt)
    j_kind = np.concatenate([kind, np.full(m_pu, 4)])  # 4 = pileup
    j_hf = np.concatenate([s_hf, np.zeros(m_pu, int)])
    j_pdg = np.concatenate([s_pdg, np.zeros(m_pu, int)])
    j_store = (j_pt > 15.0) & (np.abs(j_eta) < 4.7)
    jsel = np.nonzero(j_store)[0]
    j_order, j_local, j_counts = _sort_local(j_evt[jsel], j_pt[jsel], n)
    src_jet = np.full(nj, -1, dtype=np.int64)
    src_jet[jsel] = j_local

    # ---- taus
    tau = _taus(rng, truth, sh if is_data else DetectorShifts(), force_tau_fake, n, s_evt, kind, s_pdg, s_hf,
                j_pt[:k], j_eta[:k], j_phi[:k], src_jet[:k], n_p, n_t)
    # ---- electrons and muons
    leps = _leptons(rng, truth, n, npvs, s_evt, kind, s_hf, gj_pt, gj_eta, gj_phi, src_jet[:k], n_p, n_t)

    # ---- MET: neutrinos + mismeasured objects + unclustered
    mx, my = truth.nu_px.copy(), truth.nu_py.copy()

    def add(evt: np.ndarray, dpx: np.ndarray, dpy: np.ndarray) -> None:
        mx[:] += np.bincount(evt, weights=dpx, minlength=n)
        my[:] += np.bincount(evt, weights=dpy, minlength=n)

    measured_elsewhere = np.zeros(k, dtype=bool)
    measured_elsewhere[n_p + tau["genuine_ref"]] = True
    measured_elsewhere[n_p + n_t + leps["prompt_ref"]] = True
    use = ~measured_elsewhere
    add(s_evt[use], ((gj_pt - pt_nom) * np.cos(gj_phi))[use], ((gj_pt - pt_nom) * np.sin(gj_phi))[use])
    shifted = (j_pt > 15.0) | (j_pt_nom > 15.0)
    add(j_evt[shifted], ((j_pt_nom - j_pt) * np.cos(j_phi))[shifted], ((j_pt_nom - j_pt) * np.sin(j_phi))[shifted])
    for ev_, gpt, rpt, phi in (tau["met_terms"], leps["met_terms"]):
        add(ev_, (gpt - rpt) * np.cos(phi), (gpt - rpt) * np.sin(phi))
    sumet_u = rng.gamma(5.0, (280.0 + 30.0 * npvs) / 5.0)
    sig_u = 0.5 * np.sqrt(sumet_u) + 2.0
    mx += rng.normal(0, 1, n) * sig_u
    my += rng.normal(0, 1, n) * sig_u
    met_pt, met_phi = np.hypot(mx, my), np.arctan2(my, mx)
    sum_et = sumet_u + np.bincount(j_evt[jsel], weights=j_pt[jsel], minlength=n)

    # ---- jets output (needs lepton links)
    jo = jsel[j_order]
    csv, deep = btag_scores(rng, j_hf[jo], j_pt[jo], np.abs(j_eta[jo]), np.where(j_kind[jo] == 1, 0.35, 0.0))
    nsel = len(jo)
    u = rng.uniform(0, 1, nsel)
    is_pu, is_lep = j_kind[jo] == 4, (j_kind[jo] == 2) | (j_kind[jo] == 3)
    # jetId: 6 = tight + tightLepVeto, 2 = tight only (lepton-like jets), 0 = fails
    jet_id = np.where(is_lep, 2, np.where(u < np.where(is_pu, 0.05, 0.01), 0,
                                          np.where(u < np.where(is_pu, 0.10, 0.025), 2, 6)))
    # puId (0, 4 = loose, 6 = + medium, 7 = + tight); defined below 50 GeV
    hard_probs = np.where((j_pt[jo] < 50)[:, None], [0.04, 0.06, 0.08, 0.82], [0.0, 0.0, 0.0, 1.0])
    pu_probs = np.where(is_pu[:, None], [0.60, 0.25, 0.10, 0.05], hard_probs)
    n_const = np.where(is_lep, rng.integers(1, 4, nsel), rng.poisson(4 + 0.9 * j_pt[jo] ** 0.6))
    jets = {
        "pt": j_pt[jo], "eta": j_eta[jo], "phi": j_phi[jo], "mass": j_mass[jo],
        "area": np.clip(rng.normal(0.50, 0.03, nsel), 0.2, 0.8), "rawFactor": rng.normal(0.08, 0.05, nsel),
        "btagCSVV2": csv, "btagDeepB": deep, "jetId": jet_id,
        "puId": _choice(rng, np.array([0, 4, 6, 7]), pu_probs),
        "nConstituents": np.clip(n_const, 1, 255),
        **_lepton_links(leps, j_counts, n),
    }
    jets["cleanmask"] = (jets.pop("_hosts_lepton") == 0).astype(np.int64)
    collections = {"Jet": Coll(j_counts, jets), "Tau": tau["coll"], "Electron": leps["Electron"], "Muon": leps["Muon"]}
    if not is_data:
        jets.update({"hadronFlavour": j_hf[jo], "partonFlavour": j_pdg[jo],
                     "genJetIdx": np.concatenate([src_genjet, np.full(m_pu, -1)])[jo]})
        go = gsel[g_order]
        collections["GenJet"] = Coll(g_counts, {"pt": gj_pt[go], "eta": gj_eta[go], "phi": gj_phi[go],
                                                "mass": gj_mass[go], "partonFlavour": s_pdg[go],
                                                "hadronFlavour": s_hf[go]})
        collections["GenPart"] = Coll(np.bincount(truth.genpart["evt"], minlength=n),
                                      {c: v for c, v in truth.genpart.items() if c != "evt"})
        vis = np.nonzero(T["pt"] > GENVISTAU_PT_MIN)[0]
        v_order, _, v_counts = _sort_local(T["evt"][vis], T["pt"][vis], n)
        vo = vis[v_order]
        collections["GenVisTau"] = Coll(v_counts, {"pt": T["pt"][vo], "eta": T["eta"][vo], "phi": T["phi"][vo],
                                                   "mass": T["mass"][vo], "charge": T["charge"][vo],
                                                   "genPartIdxMother": T["gp"][vo], "status": T["dm"][vo]})
    else:
        for name in ("Tau", "Electron", "Muon"):
            for c in ("genPartIdx", "genPartFlav"):
                collections[name].fields.pop(c)
    scalars = {
        "MET_pt": met_pt, "MET_phi": met_phi, "MET_sumEt": sum_et,
        "PV_npvs": npvs, "PV_npvsGood": npvs_good, "PV_x": rng.normal(0.1048, 0.0025, n),
        "PV_y": rng.normal(0.1688, 0.0024, n), "PV_z": rng.normal(-1.0, 5.0, n), "fixedGridRhoFastjetAll": rho,
    }
    if not is_data:
        scalars.update({"GenMET_pt": np.hypot(truth.nu_px, truth.nu_py),
                        "GenMET_phi": np.arctan2(truth.nu_py, truth.nu_px),
                        "Pileup_nPU": n_pu, "Pileup_nTrueInt": n_true})
    scalars.update(_triggers(rng, collections, met_pt, n))
    return Reco(collections, scalars, tau["weight"], truth.is_signal)


def _taus(rng: np.random.Generator, truth: Truth, sh: DetectorShifts, force: float | None, n: int, s_evt: np.ndarray,
          kind: np.ndarray, s_pdg: np.ndarray, s_hf: np.ndarray, j_pt: np.ndarray, j_eta: np.ndarray,
          j_phi: np.ndarray, src_jet: np.ndarray, n_p: int, n_t: int) -> dict:
    """Tau candidates from genuine taus, jets and prompt leptons."""
    T, L = truth.taus, truth.leptons
    # sources: [parton jets | genuine taus | prompt leptons]
    is_jet = kind == 0
    p_jet = np.select([s_hf > 0, np.abs(s_pdg) == 21], [TAU_CAND_PROB["heavy"], TAU_CAND_PROB["gluon"]],
                      TAU_CAND_PROB["quark"])
    p_jet = p_jet * np.clip((40.0 / np.maximum(j_pt, 1.0)) ** 0.4, 0.5, 1.2)
    p_lep = np.where(kind == 2, TAU_LEPTON_CAND_PROB[11], TAU_LEPTON_CAND_PROB[13])
    p_cand = np.where(is_jet, p_jet, np.where(kind == 1, TAU_GENUINE_CAND_PROB, p_lep))
    iso_mean = np.where(is_jet, TAU_FAKE_ISO_MEAN, 0.0)
    k = len(kind)
    src_pt = np.concatenate([j_pt[:n_p], T["pt"], L["pt"]])
    src_eta = np.concatenate([j_eta[:n_p], T["eta"], L["eta"]])
    src_phi = np.concatenate([j_phi[:n_p], T["phi"], L["phi"]])
    mode = np.zeros(k, dtype=np.int64)
    weight = np.ones(n)
    if force is not None:
        jet_idx = np.nonzero(is_jet)[0]  # parton sources are sorted by event
        p_succ = _success_probability(p_cand[jet_idx], iso_mean[jet_idx], src_pt[jet_idx], src_eta[jet_idx], force)
        m, weight = force_one_success(rng, s_evt[jet_idx], p_succ, n)
        mode[jet_idx] = m
    c, s, f = _tau_outcomes(rng, p_cand, iso_mean, src_pt, src_eta, mode, is_jet, 20.0 if force is None else force)
    # decay modes
    gen_dm = np.zeros(k, dtype=np.int64)
    gen_dm[n_p:n_p + n_t] = T["dm"]
    rows = np.tile(np.asarray(DM_FAKE, dtype=float), (k, 1))
    for g, probs in DM_MIGRATION.items():
        rows[(kind == 1) & (gen_dm == g)] = probs
    rows[kind == 2] = [0.55, 0.45, 0, 0, 0, 0]
    rows[kind == 3] = [0.85, 0.15, 0, 0, 0, 0]
    dm = _choice(rng, RECO_DM, rows)
    res = np.array([TAU_RESOLUTION[d] for d in RECO_DM])[np.searchsorted(RECO_DM, dm)]
    tes = 1.0 + sh.tes * sh.tes_unc
    genuine_resp = (1.0 + res * rng.normal(0, 1, k)) * tes
    resp = np.select([is_jet, kind == 1], [f, genuine_resp], 1.0 + 0.025 * rng.normal(0, 1, k))
    pt = src_pt * resp
    eta = src_eta + np.where(is_jet, rng.normal(0, 0.02, k), 0.005 * rng.normal(0, 1, k))
    phi = src_phi + np.where(is_jet, rng.normal(0, 0.02, k), 0.005 * rng.normal(0, 1, k))
    s_new = s * 0.85 + 0.527 * rng.normal(0, 1, k) + 0.15 * iso_mean
    s_03 = s * 0.90 + 0.436 * rng.normal(0, 1, k) + 0.10 * iso_mean
    t0 = TAU_ISO_THRESHOLDS[0]
    stored = c & (pt > 18.0) & (np.abs(eta) < 2.3) & ((s > t0) | (s_new > t0) | (s_03 > t0))
    if force is not None:  # success sources are stored by construction (eta, pT fraction and isolation are conditioned)
        stored |= (mode == 1)
    sel = np.nonzero(stored)[0]
    order, _, counts = _sort_local(s_evt[sel], pt[sel], n)
    o = sel[order]
    m = len(o)
    ko = kind[o]
    vis_mass = np.concatenate([np.zeros(n_p), T["mass"], np.zeros(k - n_p - n_t)])[o]
    genuine_mass = np.clip(vis_mass * (1 + 0.05 * rng.normal(0, 1, m)), 0.2, 1.8)
    mass = np.where(dm[o] == 0, 0.13957, np.where(ko == 1, genuine_mass, rng.uniform(0.3, 1.6, m)))
    lep_pdg = np.concatenate([np.zeros(n_p + n_t, int), L["pdgId"]])[o]
    true_q = np.concatenate([np.zeros(n_p, int), T["charge"], np.zeros(k - n_p - n_t, int)])[o]
    charge = np.select([ko == 1, ko >= 2], [true_q * np.where(rng.uniform(0, 1, m) < 0.01, -1, 1), -np.sign(lep_pdg)],
                       rng.choice([-1, 1], m))
    lead_lo = np.select([dm[o] == 0, dm[o] == 1], [0.9, 0.25], 0.35)
    lead_hi = np.select([dm[o] == 0, dm[o] >= 10], [1.0, 0.8], 0.95)
    ae_mean = np.where(ko == 2, -3.55, 0.0)
    am_mean = np.where(ko == 3, -4.75, 0.0)
    lflav = np.concatenate([np.zeros(n_p + n_t, int), L["flav"]])[o]
    genflav = np.select([ko == 1, ko == 2, ko == 3], [5, np.where(lflav == 15, 3, 1), np.where(lflav == 15, 4, 2)], 0)
    gp = np.concatenate([np.full(n_p, -1), T["gp"], L["gp"]])[o]
    fields = {
        "pt": pt[o], "eta": eta[o], "phi": phi[o], "mass": mass,
        "rawMVAoldDM": np.tanh(0.8 * (s[o] + 1.3)), "leadTkPtOverTauPt": rng.uniform(lead_lo, lead_hi),
        "charge": charge, "decayMode": dm[o], "jetIdx": src_jet[o],
        "idDecayMode": np.isin(dm[o], (0, 1, 10)), "idDecayModeNewDMs": np.ones(m, dtype=bool),
        "idMVAoldDM": _bits(s[o], TAU_ISO_THRESHOLDS), "idMVAnewDM": _bits(s_new[o], TAU_ISO_THRESHOLDS),
        "idMVAoldDMdR03": _bits(s_03[o], TAU_ISO_THRESHOLDS),
        "idAntiEle": _bits(ae_mean + rng.normal(0, 1, m), TAU_ANTI_ELE_THRESHOLDS),
        "idAntiEleDeadECal": rng.uniform(0, 1, m) < 0.98,
        "idAntiMu": _bits(am_mean + rng.normal(0, 1, m), TAU_ANTI_MU_THRESHOLDS),
        "genPartIdx": gp, "genPartFlav": genflav, "cleanmask": np.ones(m, dtype=np.int64),
    }
    genuine = sel[kind[sel] == 1]
    return {
        "coll": Coll(counts, fields), "weight": weight, "genuine_ref": genuine - n_p,
        "met_terms": (s_evt[genuine], src_pt[genuine], pt[genuine], src_phi[genuine]),
    }


def _leptons(rng: np.random.Generator, truth: Truth, n: int, npvs: np.ndarray, s_evt: np.ndarray, kind: np.ndarray,
             s_hf: np.ndarray, gj_pt: np.ndarray, gj_eta: np.ndarray, gj_phi: np.ndarray, src_jet: np.ndarray,
             n_p: int, n_t: int) -> dict:
    """Electron and Muon collections: prompt leptons plus non-prompt ones inside jets."""
    L = truth.leptons
    # non-prompt leptons from parton jets
    pj = np.arange(n_p)
    out: dict = {"prompt_ref": [], "met_terms": [[], [], [], []]}
    for name, pdg0, eta_max in (("Electron", 11, 2.5), ("Muon", 13, 2.4)):
        prob = NONPROMPT_LEPTON_PROB[pdg0]
        p_np = np.select([s_hf[pj] == 5, s_hf[pj] == 4], [prob[5], prob[4]], prob[0])
        pr = np.nonzero(np.abs(L["pdgId"]) == pdg0)[0]
        npj = pj[rng.uniform(0, 1, n_p) < p_np]
        m_np = len(npj)
        frac = rng.beta(1.3, 5.5, m_np)
        src = np.concatenate([n_p + n_t + pr, npj])  # gen-jet source of each lepton
        evt = s_evt[src]
        gpt = np.concatenate([L["pt"][pr], gj_pt[npj] * frac])
        geta = np.concatenate([L["eta"][pr], gj_eta[npj] + rng.normal(0, 0.04, m_np)])
        gphi = np.concatenate([L["phi"][pr], gj_phi[npj] + rng.normal(0, 0.04, m_np)])
        prompt = np.arange(len(src)) < len(pr)
        pdg = np.concatenate([L["pdgId"][pr], pdg0 * rng.choice([-1, 1], m_np)])
        q = len(src)
        if pdg0 == 11:
            eff = 0.93 / (1 + np.exp(-(gpt - 6.0) / 1.5))
            rpt = gpt * (1 + 0.03 * rng.normal(0, 1, q))
            thr = 5.0
        else:
            eff = 0.97 / (1 + np.exp(-(gpt - 3.5) / 0.5))
            rpt = gpt * (1 + (0.012 + 1e-4 * gpt) * rng.normal(0, 1, q))
            thr = 3.0
        ok = (rng.uniform(0, 1, q) < eff) & (np.abs(geta) < eta_max) & (rpt > thr)
        sel = np.nonzero(ok)[0]
        order, local, counts = _sort_local(evt[sel], rpt[sel], n)
        o = sel[order]
        m = len(o)
        pro = prompt[o]
        iso_pu = 0.002 * npvs[evt[o]] * rng.exponential(1.0, m)
        iso = np.where(pro, np.where(rng.uniform(0, 1, m) < 0.4, 0.0, rng.exponential(0.035, m)) + iso_pu,
                       rng.lognormal(np.log(0.6), 0.8, m))
        lflav = np.concatenate([L["flav"][pr], np.zeros(m_np, int)])[o]
        hf = np.concatenate([np.zeros(len(pr), int), s_hf[npj]])[o]
        f = {
            "pt": rpt[o], "eta": geta[o], "phi": gphi[o],
            "dxy": rng.normal(0, np.where(pro, 0.002, 0.02)), "dz": rng.normal(0, np.where(pro, 0.005, 0.03)),
            "charge": -np.sign(pdg[o]), "pdgId": pdg[o], "jetIdx": src_jet[src[o]],
            "genPartIdx": np.concatenate([L["gp"][pr], np.full(m_np, -1)])[o],
            "genPartFlav": np.where(pro, lflav, np.select([hf == 5, hf == 4], [5, 4], 0 if pdg0 == 11 else 3)),
            "cleanmask": np.ones(m, dtype=np.int64),
        }
        if pdg0 == 11:
            # cut-based ID without isolation, then capped by the isolation level
            id_probs = np.where(pro[:, None], [0.01, 0.02, 0.03, 0.06, 0.88], [0.30, 0.15, 0.15, 0.15, 0.25])
            id_level = _choice(rng, np.arange(5), id_probs)
            iso_level = sum((iso < a + b / np.maximum(rpt[o], 1.0)).astype(int) for a, b in ELE_ISO_CUTS)
            cut = np.minimum(id_level, iso_level)
            f.update({"mass": rng.normal(0, 0.015, m), "deltaEtaSC": rng.normal(0, 0.01, m), "pfRelIso03_all": iso,
                      "cutBased": cut, "convVeto": rng.uniform(0, 1, m) < np.where(pro, 0.98, 0.90),
                      "mvaFall17V2Iso_WP80": (cut >= 4) & (rng.uniform(0, 1, m) < 0.95),
                      "mvaFall17V2Iso_WP90": (cut >= 3) & (rng.uniform(0, 1, m) < 0.98)})
            loose = cut >= 1
        else:
            u = rng.uniform(0, 1, m)
            loose_id = u < np.where(pro, 0.995, 0.97)
            f.update({"mass": np.full(m, 0.10566), "pfRelIso04_all": iso,
                      "pfRelIso03_all": iso * rng.uniform(0.6, 0.95, m),
                      "looseId": loose_id, "mediumId": u < np.where(pro, 0.985, 0.85),
                      "tightId": u < np.where(pro, 0.965, 0.70), "isGlobal": loose_id & (rng.uniform(0, 1, m) < 0.98),
                      "isTracker": np.ones(m, dtype=bool), "isPFcand": loose_id})
            loose = loose_id & (iso < 0.4)
        out[name] = Coll(counts, f)
        out[f"_{name}_link"] = (evt[o], src_jet[src[o]], local[order], loose & (rpt[o] > 10.0))
        out["prompt_ref"].append(pr[ok[: len(pr)]])
        mt = out["met_terms"]
        pro_ok = sel[sel < len(pr)]
        for lst, v in zip(mt, (evt[pro_ok], gpt[pro_ok], rpt[pro_ok], gphi[pro_ok])):
            lst.append(v)
    out["prompt_ref"] = np.concatenate(out["prompt_ref"])
    out["met_terms"] = tuple(np.concatenate(v) for v in out["met_terms"])
    return out


def _lepton_links(leps: dict, j_counts: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Jet_electronIdx1/2, Jet_muonIdx1/2, Jet_nElectrons/nMuons and a lepton-host count for cleaning."""
    n_jets = int(j_counts.sum())
    offset = np.cumsum(j_counts) - j_counts
    out: dict[str, np.ndarray] = {"_hosts_lepton": np.zeros(n_jets, dtype=np.int64)}
    for name, short in (("Electron", "electron"), ("Muon", "muon")):
        evt, jet, local, loose = leps[f"_{name}_link"]
        has = jet >= 0
        g = offset[evt[has]] + jet[has]
        loc = local[has]
        order = np.lexsort((loc, g))
        g, loc = g[order], loc[order]
        rank = np.arange(len(g)) - np.searchsorted(g, g, side="left")
        i1 = np.full(n_jets, -1, dtype=np.int64)
        i2 = np.full(n_jets, -1, dtype=np.int64)
        i1[g[rank == 0]] = loc[rank == 0]
        i2[g[rank == 1]] = loc[rank == 1]
        out[f"{short}Idx1"], out[f"{short}Idx2"] = i1, i2
        out[f"n{name}s"] = np.bincount(g, minlength=n_jets)
        np.add.at(out["_hosts_lepton"], offset[evt[has & loose]] + jet[has & loose], 1)
    return out


def _triggers(rng: np.random.Generator, colls: dict[str, Coll], met: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """HLT bits emulated from reconstructed objects with online resolution and 97 % plateaus."""
    def per_event(coll: Coll, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        evt = np.repeat(np.arange(n), coll.counts)
        return np.bincount(evt[mask], weights=None if weights is None else weights[mask], minlength=n)

    def plateau(x: np.ndarray) -> np.ndarray:
        return x & (rng.uniform(0, 1, n) < 0.97)

    j, t, e, mu = colls["Jet"].fields, colls["Tau"].fields, colls["Electron"].fields, colls["Muon"].fields
    jpt = j["pt"] * (1 + 0.05 * rng.normal(0, 1, len(j["pt"])))
    central = np.abs(j["eta"]) < 3.0
    ht = per_event(colls["Jet"], central & (jpt > 40), jpt)
    njet = {thr: per_event(colls["Jet"], central & (jpt > thr)) for thr in (30, 40, 45, 50)}
    csv_hlt = j["btagCSVV2"] + 0.05 * rng.normal(0, 1, len(jpt))
    n_csv = per_event(colls["Jet"], (np.abs(j["eta"]) < 2.6) & (jpt > 45) & (csv_hlt > 0.67))
    met_hlt = met * (1 + 0.1 * rng.normal(0, 1, n)) + rng.normal(0, 5, n)
    tpt = t["pt"] * (1 + 0.04 * rng.normal(0, 1, len(t["pt"])))
    tau50 = per_event(colls["Tau"], (tpt > 50) & (np.abs(t["eta"]) < 2.1) & (t["leadTkPtOverTauPt"] * tpt > 30)
                      & (t["rawMVAoldDM"] > np.tanh(0.8 * (TAU_ISO_THRESHOLDS[1] - 0.3 + 1.3)))) > 0
    mpt = mu["pt"] * (1 + 0.02 * rng.normal(0, 1, len(mu["pt"])))
    iso_mu = (np.abs(mu["eta"]) < 2.4) & mu["looseId"] & (mu["pfRelIso04_all"] < 0.2)
    ept = e["pt"] * (1 + 0.03 * rng.normal(0, 1, len(e["pt"])))
    wp_e = e["cutBased"] >= 2
    return {
        "HLT_PFHT350": plateau(ht > 350), "HLT_PFHT800": plateau(ht > 800),
        "HLT_PFHT550_4JetPt50": plateau((ht > 550) & (njet[50] >= 4)),
        "HLT_PFHT450_SixJet40": plateau((ht > 450) & (njet[40] >= 6)),
        "HLT_PFHT400_SixJet30": plateau((ht > 400) & (njet[30] >= 6)),
        "HLT_QuadJet45_TripleBTagCSV0p67": plateau((njet[45] >= 4) & (n_csv >= 3)),
        "HLT_LooseIsoPFTau50_Trk30_eta2p1": plateau(tau50),
        "HLT_LooseIsoPFTau50_Trk30_eta2p1_MET80": plateau(tau50 & (met_hlt > 80)),
        "HLT_PFMET170": plateau(met_hlt > 170),
        "HLT_IsoMu20": plateau(per_event(colls["Muon"], iso_mu & (mpt > 20)) > 0),
        "HLT_IsoMu22": plateau(per_event(colls["Muon"], iso_mu & (mpt > 22)) > 0),
        "HLT_IsoTkMu20": plateau(per_event(colls["Muon"], iso_mu & (mpt > 20)) > 0),
        "HLT_Ele23_WPLoose_Gsf": plateau(
            per_event(colls["Electron"], wp_e & (np.abs(e["eta"]) < 2.5) & (ept > 23)) > 0),
        "HLT_Ele27_eta2p1_WPLoose_Gsf": plateau(
            per_event(colls["Electron"], wp_e & (np.abs(e["eta"]) < 2.1) & (ept > 27)) > 0),
    }
