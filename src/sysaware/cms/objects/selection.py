"""The published tau+jets selection (Layer, Dorigo, Strong; code ``llayer/cmsopen``) on NanoAOD.

Translation of the 2011 selection (reference ``cms_taujets_reference.json``, key ``selection``) to
NanoAOD branches; every threshold is a field of :class:`SelectionConfig`:

* trigger: OR of ``triggers`` (HLT bits); an empty tuple applies no trigger requirement;
* jets: ``Jet_pt > 20``, ``|Jet_eta| < 2.4``, jet ID bit(s) ``Jet_jetId & jet_id_mask``, and
  Delta R > 0.4 from every selected tau; >= 4 such jets, >= 3 of them with pT > 45;
* exactly one hadronic tau: ``Tau_pt > 45``, ``|Tau_eta| < 2.3``, ``Tau_idDecayMode``, isolation
  ``Tau_idMVAoldDM & tau_iso_wp`` (Loose), ``Tau_idAntiEle & tau_anti_ele_wp`` (Tight),
  ``Tau_idAntiMu & tau_anti_mu_wp`` (Tight);
* lepton veto: no electron with pT > 10, |eta| < 2.5, ``Electron_cutBased >= 2`` (loose), and no
  muon with pT > 10, |eta| < 2.5, ``Muon_looseId`` and ``Muon_pfRelIso03_all < 0.15``;
* ``MET_pt > 20``;
* >= 1 jet with ``Jet_btagCSVV2 > 0.8484`` (CSVv2 medium of the 2015/2016 NanoAOD era; the 2011
  study used CSV medium 0.679).

Differences from the published 2011 code, forced by the NanoAOD content: the 2011 HLT paths
(``HLT_QuadJet40_IsoPFTau40``/``HLT_QuadJet45_IsoPFTau45`` with their run ranges, plus HLT object
matching) do not exist in the 2015 menu, so the default trigger is the 2015 single-tau path
``HLT_LooseIsoPFTau50_Trk30_eta2p1`` (:data:`PUBLISHED_2011_TRIGGERS` keeps the 2011 names); the
2011 cut-based tau isolation is replaced by the MVA isolation bitmask; the tau lead-track, dxy and
vertex-dz cuts and the lepton vertex-dz cuts of the 2011 code are not applied.

The cut order of the cut flow follows the published code: trigger, >= 4 jets, >= 3 jets above
45 GeV, exactly one tau, lepton veto, MET, b-tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import awkward as ak
import numpy as np

#: HLT paths of the published 2011 analysis (absent from the 2015 NanoAOD menu).
PUBLISHED_2011_TRIGGERS: tuple[str, ...] = ("HLT_QuadJet40_IsoPFTau40", "HLT_QuadJet45_IsoPFTau45")

#: Cut names of the cut flow, in order (``"all"`` first).
CUT_NAMES: tuple[str, ...] = (
    "all",
    "trigger",
    "n_jets",
    "n_lead_jets",
    "one_tau",
    "lepton_veto",
    "met",
    "btag",
)


@dataclass(frozen=True)
class SelectionConfig:
    """Thresholds of the tau+jets selection; defaults are the published values (see module doc).

    Bitmask working points are the bit values of the NanoAOD branches: ``Tau_idMVAoldDM``
    1=VLoose 2=Loose 4=Medium 8=Tight..., ``Tau_idAntiEle`` 1=VLoose 2=Loose 4=Medium 8=Tight
    16=VTight, ``Tau_idAntiMu`` 1=Loose 2=Tight, ``Jet_jetId`` 1=loose 2=tight 4=tightLepVeto
    (the loose bit is never set in this 2015 production, hence tight).  A working point of 0
    disables that requirement.
    """

    triggers: tuple[str, ...] = ("HLT_LooseIsoPFTau50_Trk30_eta2p1",)
    # jets
    jet_pt_min: float = 20.0
    jet_abs_eta_max: float = 2.4
    jet_id_mask: int = 2
    jet_tau_dr_min: float = 0.4
    n_jets_min: int = 4
    lead_jet_pt_min: float = 45.0
    n_lead_jets_min: int = 3
    # tau
    tau_pt_min: float = 45.0
    tau_abs_eta_max: float = 2.3
    tau_decay_mode_finding: bool = True
    tau_iso_wp: int = 2
    tau_anti_ele_wp: int = 8
    tau_anti_mu_wp: int = 2
    n_taus: int = 1
    # lepton veto
    electron_pt_min: float = 10.0
    electron_abs_eta_max: float = 2.5
    electron_cutbased_min: int = 2
    muon_pt_min: float = 10.0
    muon_abs_eta_max: float = 2.5
    muon_loose_id: bool = True
    muon_reliso_max: float = 0.15
    # event
    met_min: float = 20.0
    btag_wp: float = 0.8484
    n_btag_min: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.triggers, str):
            raise TypeError("triggers must be a sequence of HLT branch names, not a string")
        object.__setattr__(self, "triggers", tuple(self.triggers))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SelectionConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys raise ``TypeError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TypeError(f"unknown SelectionConfig field(s): {unknown}")
        return cls(**data)

    def required_branches(self) -> tuple[str, ...]:
        """NanoAOD branches the selection reads (counters ``nX`` are added by the reader).

        Lepton ``phi``/``mass``/``charge`` are not cut on but NanoEvents needs them to build the
        Electron and Muon collections.
        """
        return (
            *self.triggers,
            "Jet_pt",
            "Jet_eta",
            "Jet_phi",
            "Jet_mass",
            "Jet_jetId",
            "Jet_btagCSVV2",
            "Tau_pt",
            "Tau_eta",
            "Tau_phi",
            "Tau_mass",
            "Tau_charge",
            "Tau_idDecayMode",
            "Tau_idMVAoldDM",
            "Tau_idAntiEle",
            "Tau_idAntiMu",
            "Electron_pt",
            "Electron_eta",
            "Electron_phi",
            "Electron_mass",
            "Electron_charge",
            "Electron_cutBased",
            "Muon_pt",
            "Muon_eta",
            "Muon_phi",
            "Muon_mass",
            "Muon_charge",
            "Muon_looseId",
            "Muon_pfRelIso03_all",
            "MET_pt",
            "MET_phi",
        )


@dataclass
class CutFlow:
    """Ordered cut name -> (events, weighted sum); counts are cumulative (after all previous cuts)."""

    events: dict[str, int] = field(default_factory=dict)
    weighted: dict[str, float] = field(default_factory=dict)

    def add(self, other: CutFlow) -> None:
        """Accumulate another chunk's cut flow (same cut names)."""
        for k, v in other.events.items():
            self.events[k] = self.events.get(k, 0) + int(v)
        for k, v in other.weighted.items():
            self.weighted[k] = self.weighted.get(k, 0.0) + float(v)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{cut: {"events": n, "weighted": w}}`` in cut order (JSON-friendly)."""
        return {k: {"events": int(self.events[k]), "weighted": float(self.weighted[k])} for k in self.events}


@dataclass
class SelectionResult:
    """Outcome of :func:`select_events` on one chunk (all arrays have the chunk's length).

    ``jets`` are the selected, tau-cleaned jets (pT-ordered as in NanoAOD), ``taus`` the selected
    taus; ``mask`` is the full selection, ``masks`` the cumulative mask after each cut.
    """

    mask: np.ndarray
    masks: dict[str, np.ndarray]
    jets: Any
    taus: Any
    cutflow: CutFlow


def _bits(values: Any, wp: int) -> Any:
    if wp == 0:
        return ak.ones_like(values, dtype=bool)
    return (values & wp) != 0


def select_taus(taus: Any, cfg: SelectionConfig) -> Any:
    """Taus passing kinematics, decay-mode finding, isolation and anti-lepton working points."""
    ok = (taus.pt > cfg.tau_pt_min) & (abs(taus.eta) < cfg.tau_abs_eta_max)
    if cfg.tau_decay_mode_finding:
        ok = ok & taus.idDecayMode
    ok = ok & _bits(taus.idMVAoldDM, cfg.tau_iso_wp)
    ok = ok & _bits(taus.idAntiEle, cfg.tau_anti_ele_wp)
    ok = ok & _bits(taus.idAntiMu, cfg.tau_anti_mu_wp)
    return taus[ok]


def select_jets(jets: Any, taus: Any, cfg: SelectionConfig) -> Any:
    """Jets passing pT, |eta| and jet ID, with Delta R > ``jet_tau_dr_min`` from every tau in ``taus``."""
    ok = (jets.pt > cfg.jet_pt_min) & (abs(jets.eta) < cfg.jet_abs_eta_max)
    if cfg.jet_id_mask:
        ok = ok & ((jets.jetId & cfg.jet_id_mask) == cfg.jet_id_mask)
    dr = jets.metric_table(taus)  # (event, jet, tau); all() over no taus is True
    ok = ok & ak.all(dr > cfg.jet_tau_dr_min, axis=2)
    return jets[ok]


def veto_leptons(events: Any, cfg: SelectionConfig) -> np.ndarray:
    """True where the event has no loose electron and no loose isolated muon."""
    ele = events.Electron
    e_ok = (
        (ele.pt > cfg.electron_pt_min)
        & (abs(ele.eta) < cfg.electron_abs_eta_max)
        & (ele.cutBased >= cfg.electron_cutbased_min)
    )
    mu = events.Muon
    m_ok = (mu.pt > cfg.muon_pt_min) & (abs(mu.eta) < cfg.muon_abs_eta_max) & (mu.pfRelIso03_all < cfg.muon_reliso_max)
    if cfg.muon_loose_id:
        m_ok = m_ok & mu.looseId
    return ak.to_numpy((ak.sum(e_ok, axis=1) == 0) & (ak.sum(m_ok, axis=1) == 0))


def trigger_mask(events: Any, cfg: SelectionConfig) -> np.ndarray:
    """OR of the configured HLT bits; all True when ``cfg.triggers`` is empty."""
    n = len(events)
    out = np.zeros(n, dtype=bool) if cfg.triggers else np.ones(n, dtype=bool)
    for name in cfg.triggers:
        out |= ak.to_numpy(_flag(events, name)).astype(bool)
    return out


def _flag(events: Any, name: str) -> Any:
    # NanoAODSchema nests HLT_X as events.HLT.X (likewise Flag_X, L1_X)
    prefix, _, rest = name.partition("_")
    if rest and prefix in events.fields and rest in events[prefix].fields:
        return events[prefix][rest]
    return events[name]


def object_independent_cuts(events: Any, cfg: SelectionConfig) -> dict[str, np.ndarray]:
    """The cuts no jet/tau/MET variation changes (trigger, lepton veto): computed once per chunk."""
    return {"trigger": trigger_mask(events, cfg), "lepton_veto": veto_leptons(events, cfg)}


def select_events(
    events: Any,
    cfg: SelectionConfig,
    weights: np.ndarray | None = None,
    fixed_cuts: dict[str, np.ndarray] | None = None,
) -> SelectionResult:
    """Apply the full selection to NanoEvents ``events`` (whose Jet/Tau/MET may be shifted).

    ``weights`` (per event, e.g. ``genWeight``) fill the weighted cut flow; default 1.
    ``fixed_cuts`` are :func:`object_independent_cuts` of the same events, when already known.
    """
    n = len(events)
    fixed = object_independent_cuts(events, cfg) if fixed_cuts is None else fixed_cuts
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    taus = select_taus(events.Tau, cfg)
    jets = select_jets(events.Jet, taus, cfg)
    n_tau = ak.to_numpy(ak.num(taus, axis=1))
    n_jet = ak.to_numpy(ak.num(jets, axis=1))
    n_lead = ak.to_numpy(ak.sum(jets.pt > cfg.lead_jet_pt_min, axis=1))
    n_btag = ak.to_numpy(ak.sum(jets.btagCSVV2 > cfg.btag_wp, axis=1))
    met = ak.to_numpy(events.MET.pt)

    cuts = {
        "all": np.ones(n, dtype=bool),
        "trigger": fixed["trigger"],
        "n_jets": n_jet >= cfg.n_jets_min,
        "n_lead_jets": n_lead >= cfg.n_lead_jets_min,
        "one_tau": n_tau == cfg.n_taus,
        "lepton_veto": fixed["lepton_veto"],
        "met": met > cfg.met_min,
        "btag": n_btag >= cfg.n_btag_min,
    }
    masks: dict[str, np.ndarray] = {}
    flow = CutFlow()
    running = np.ones(n, dtype=bool)
    for name in CUT_NAMES:
        running = running & cuts[name]
        masks[name] = running.copy()
        flow.events[name] = int(running.sum())
        flow.weighted[name] = float(w[running].sum())
    return SelectionResult(mask=running, masks=masks, jets=jets, taus=taus, cutflow=flow)
