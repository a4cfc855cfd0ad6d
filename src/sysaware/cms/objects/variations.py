"""Object-level systematic variations on NanoEvents, with MET propagation, plus event weights.

Shape variations (each returns :class:`ShiftedObjects`: shifted ``Jet``/``Tau`` collections and
the recomputed MET, in the same event order as the input so event ids pair nominal and shifted
events; :func:`with_objects` puts them back into the events record and the caller reruns the full
selection):

* **JER** (:func:`smear_jets`): hybrid smearing as in CMS.  A jet whose ``Jet_genJetIdx`` points
  to a stored gen jet with Delta R < ``match_dr`` and ``|pT - pT_gen| < match_pt_nsigma * sigma *
  pT`` is scaled, ``pT' = pT_gen + s (pT - pT_gen)``; otherwise it is smeared stochastically,
  ``pT' = pT (1 + N(0, 1) sigma sqrt(max(s^2 - 1, 0)))``, with ``sigma`` the relative pT
  resolution (constant, 10 % as in the published code).  The normal deviate is a counter-based
  hash of ``(seed, run, luminosityBlock, event, jet index)``, so it does not depend on chunking
  or processing order; nominal, up and down use the same deviates (only ``s`` differs).  Jet mass
  scales with pT.  The nominal MC jets are smeared with the nominal ``s``
  (``SystematicsConfig.nominal_jer``); JES and TES act on top of the nominal smearing.
* **JES** (:func:`shift_jes`): ``pT' = pT (1 + c u(pT, |eta|))``, mass likewise, with ``u`` from
  a configurable (pT, |eta|) table and ``c`` the shift in standard deviations.
* **TES** (:func:`shift_tes`): tau pT and mass scaled by ``1 + c * shift`` (``shift`` = 3 % by default).

MET propagation (type-1 style): ``MET_vec -= sum (p_T,shifted - p_T,before)_vec`` over jets with
pT > 15 GeV before *or* after the shift (all taus for TES).

Weights: :func:`btag_event_weights` (fixed-working-point method ``P(data)/P(MC)``) and
:func:`generator_weights` (``genWeight``, LHE scale envelope, PDF replicas).

The correction tables they apply (JES uncertainties, JER and b-tag scale factors, the TES shift)
are in :mod:`.corrections`, which the NanoAOD generator shares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import awkward as ak
import numpy as np

from .corrections import BTagConfig, JERConfig, JESConfig, TESConfig

#: The shape variations the ingestion runs (``nominal`` first).
SHAPE_VARIATIONS: tuple[str, ...] = ("nominal", "jes_up", "jes_down", "jer_up", "jer_down", "tes_up", "tes_down")


@dataclass(frozen=True)
class WeightConfig:
    """Which LHE weights make the scale and PDF variations.

    ``LHEScaleWeight`` is ordered [muR, muF] = [0.5,0.5], [0.5,1], [0.5,2], [1,0.5], [1,1],
    [1,2], [2,0.5], [2,1], [2,2] (branch title of this production); the envelope over
    ``scale_indices`` (the 7-point variations without the nominal and the two anti-correlated
    ones) gives up/down.  ``LHEPdfWeight`` holds LHA IDs 292201-292302 here (NNPDF3.0 NLO
    replicas 1-100, then two alpha_s members); the standard deviation over ``pdf_replicas``
    (a half-open index range) gives ``1 +- std``.
    """

    scale_indices: tuple[int, ...] = (0, 1, 3, 5, 7, 8)
    pdf_replicas: tuple[int, int] = (0, 100)


@dataclass(frozen=True)
class SystematicsConfig:
    """All systematic-variation settings; ``seed`` drives the JER smearing."""

    seed: int = 0
    nominal_jer: bool = True
    jes: JESConfig = field(default_factory=JESConfig)
    jer: JERConfig = field(default_factory=JERConfig)
    tes: TESConfig = field(default_factory=TESConfig)
    btag: BTagConfig = field(default_factory=BTagConfig)
    weights: WeightConfig = field(default_factory=WeightConfig)

    def with_seed(self, seed: int) -> SystematicsConfig:
        """Copy with another seed."""
        return replace(self, seed=int(seed))


#: ``Tau_genPartFlav`` of a tau matched to a generator hadronic tau (the TES acts on those only)
GENUINE_TAU = 5

#: Branches the shape variations need on MC (beyond those of the selection).
#: (``GenJet_mass`` is not used but NanoEvents needs it to build the GenJet collection.)
MC_BRANCHES: tuple[str, ...] = (
    "Tau_genPartFlav",
    "Jet_genJetIdx",
    "Jet_hadronFlavour",
    "GenJet_pt",
    "GenJet_eta",
    "GenJet_phi",
    "GenJet_mass",
    "genWeight",
)
#: Weight branches used when present.
OPTIONAL_WEIGHT_BRANCHES: tuple[str, ...] = ("LHEScaleWeight", "LHEPdfWeight")


# --------------------------------------------------------------------------- seeded randomness

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_JER_STREAM = _U64(0x4A4552)  # "JER"


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


def hashed_normal(
    seed: int,
    run: np.ndarray,
    lumi: np.ndarray,
    event: np.ndarray,
    index: np.ndarray,
    stream: int = int(_JER_STREAM),
) -> np.ndarray:
    """Standard-normal deviates, a pure function of ``(seed, stream, run, lumi, event, index)``.

    SplitMix64 chain over the keys, two 53-bit uniforms, Box-Muller.  Reproducible and
    independent of how events are chunked or ordered.
    """
    run = np.asarray(run).astype(np.uint64)
    n = run.shape[0]
    h = np.full(n, np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    h = _splitmix64(h ^ _U64(int(stream) & 0xFFFFFFFFFFFFFFFF))
    for key in (run, lumi, event, index):
        h = _splitmix64(h ^ np.asarray(key).astype(np.int64).astype(np.uint64))
    h2 = _splitmix64(h ^ _GOLDEN)
    u1 = ((h >> _U64(11)).astype(np.float64) + 0.5) * 2.0**-53  # (0, 1)
    u2 = (h2 >> _U64(11)).astype(np.float64) * 2.0**-53  # [0, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# --------------------------------------------------------------------------- helpers


@dataclass
class ShiftedObjects:
    """Jets and taus (full NanoAOD collections, shifted) and the recomputed MET, per event."""

    jets: Any
    taus: Any
    met_pt: np.ndarray
    met_phi: np.ndarray


def _flat(x: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(x, axis=1)), dtype=np.float64)


def _with_ptmass(coll: Any, pt_flat: np.ndarray, mass_flat: np.ndarray, counts: np.ndarray) -> Any:
    out = ak.with_field(coll, ak.unflatten(pt_flat.astype(np.float32), counts), "pt")
    return ak.with_field(out, ak.unflatten(mass_flat.astype(np.float32), counts), "mass")


def propagate_met(
    met_pt: np.ndarray,
    met_phi: np.ndarray,
    counts: np.ndarray,
    phi_flat: np.ndarray,
    pt_before: np.ndarray,
    pt_after: np.ndarray,
    threshold: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """MET after object pT changes: ``MET_vec -= sum (pT_after - pT_before)_vec``.

    Objects count if pT before or after exceeds ``threshold``.  Flat per-object arrays with
    per-event ``counts``; returns ``(met_pt, met_phi)``.
    """
    use = (pt_before > threshold) | (pt_after > threshold)
    dpt = np.where(use, pt_after - pt_before, 0.0)
    seg = np.repeat(np.arange(len(counts)), counts)
    dx = np.bincount(seg, weights=dpt * np.cos(phi_flat), minlength=len(counts))
    dy = np.bincount(seg, weights=dpt * np.sin(phi_flat), minlength=len(counts))
    met_pt = np.asarray(met_pt, dtype=np.float64)
    met_phi = np.asarray(met_phi, dtype=np.float64)
    mx = met_pt * np.cos(met_phi) - dx
    my = met_pt * np.sin(met_phi) - dy
    # an event whose objects did not move keeps its MET bit for bit (a zero shift is the nominal)
    changed = (dx != 0.0) | (dy != 0.0)
    return np.where(changed, np.hypot(mx, my), met_pt), np.where(changed, np.arctan2(my, mx), met_phi)


def base_objects(events: Any) -> ShiftedObjects:
    """The unshifted NanoAOD ``Jet``, ``Tau`` and ``MET`` of ``events``."""
    return ShiftedObjects(
        jets=events.Jet,
        taus=events.Tau,
        met_pt=np.asarray(ak.to_numpy(events.MET.pt), dtype=np.float64),
        met_phi=np.asarray(ak.to_numpy(events.MET.phi), dtype=np.float64),
    )


def with_objects(events: Any, objs: ShiftedObjects) -> Any:
    """``events`` with ``Jet``, ``Tau`` and ``MET.pt``/``MET.phi`` replaced by ``objs``."""
    met = ak.with_field(events.MET, objs.met_pt.astype(np.float32), "pt")
    met = ak.with_field(met, objs.met_phi.astype(np.float32), "phi")
    out = ak.with_field(events, objs.jets, "Jet")
    out = ak.with_field(out, objs.taus, "Tau")
    return ak.with_field(out, met, "MET")


# --------------------------------------------------------------------------- shape variations


def shift_jes(objs: ShiftedObjects, coefficient: float, cfg: JESConfig) -> ShiftedObjects:
    """Scale jet pT and mass by ``1 + coefficient * u(pT, |eta|)``; MET propagated."""
    jets = objs.jets
    counts = ak.to_numpy(ak.num(jets, axis=1))
    pt, eta, phi, mass = _flat(jets.pt), _flat(jets.eta), _flat(jets.phi), _flat(jets.mass)
    factor = 1.0 + coefficient * cfg.uncertainty.lookup(pt, np.abs(eta))
    factor = np.clip(factor, 0.0, None)
    new_pt = pt * factor
    met_pt, met_phi = propagate_met(objs.met_pt, objs.met_phi, counts, phi, pt, new_pt, cfg.met_jet_pt_min)
    return ShiftedObjects(_with_ptmass(jets, new_pt, mass * factor, counts), objs.taus, met_pt, met_phi)


def _gen_match(jets: Any, genjets: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per flat jet: (has stored gen jet, gen pT, gen eta, gen phi); index checked against nGenJet."""
    n_gen = ak.to_numpy(ak.num(genjets, axis=1))
    counts = ak.to_numpy(ak.num(jets, axis=1))
    idx = np.asarray(ak.to_numpy(ak.flatten(jets.genJetIdx, axis=1)), dtype=np.int64)
    n_gen_per_jet = np.repeat(n_gen, counts)
    start = np.repeat(np.cumsum(n_gen) - n_gen, counts)  # first gen jet of each event (also for 0 events)
    valid = (idx >= 0) & (idx < n_gen_per_jet)
    gidx = np.where(valid, start + idx, 0)
    out = [valid]
    for name in ("pt", "eta", "phi"):
        flat = _flat(genjets[name])
        vals = flat[gidx] if flat.size else np.zeros(gidx.shape)
        out.append(np.where(valid, vals, np.nan))
    return out[0], out[1], out[2], out[3]


def jer_factors(events: Any, jets: Any, which: str, cfg: JERConfig, seed: int) -> np.ndarray:
    """Flat per-jet JER multiplicative factors (hybrid method, see module doc) for ``jets``.

    ``jets`` must be the full (unfiltered) NanoAOD jet collection of ``events`` so that the jet
    index in the hash is the NanoAOD index.
    """
    counts = ak.to_numpy(ak.num(jets, axis=1))
    pt, eta, phi = _flat(jets.pt), _flat(jets.eta), _flat(jets.phi)
    s = cfg.scale_factor(which, np.abs(eta))
    sigma = cfg.relative_resolution
    has_gen, gpt, geta, gphi = _gen_match(jets, events.GenJet)
    with np.errstate(invalid="ignore"):
        dphi = (phi - gphi + np.pi) % (2 * np.pi) - np.pi
        dr = np.hypot(eta - geta, dphi)
        matched = has_gen & (dr < cfg.match_dr) & (np.abs(pt - gpt) < cfg.match_pt_nsigma * sigma * pt)
    ids = {k: np.repeat(ak.to_numpy(events[k]), counts) for k in ("run", "luminosityBlock", "event")}
    index = np.asarray(ak.to_numpy(ak.flatten(ak.local_index(jets.pt, axis=1), axis=1)), dtype=np.int64)
    z = hashed_normal(seed, ids["run"], ids["luminosityBlock"], ids["event"], index)
    safe_pt = np.where(pt > 0, pt, 1.0)
    scaling = 1.0 + (s - 1.0) * (pt - np.where(matched, gpt, pt)) / safe_pt
    stochastic = 1.0 + z * sigma * np.sqrt(np.maximum(s**2 - 1.0, 0.0))
    return np.clip(np.where(matched, scaling, stochastic), 0.0, None)


def smear_jets(events: Any, objs: ShiftedObjects, which: str, cfg: JERConfig, seed: int) -> ShiftedObjects:
    """JER-smear ``objs.jets`` (the full NanoAOD collection) with the ``which`` SF; MET propagated."""
    jets = objs.jets
    counts = ak.to_numpy(ak.num(jets, axis=1))
    pt, phi, mass = _flat(jets.pt), _flat(jets.phi), _flat(jets.mass)
    f = jer_factors(events, jets, which, cfg, seed)
    new_pt = pt * f
    met_pt, met_phi = propagate_met(objs.met_pt, objs.met_phi, counts, phi, pt, new_pt, cfg.met_jet_pt_min)
    return ShiftedObjects(_with_ptmass(jets, new_pt, mass * f, counts), objs.taus, met_pt, met_phi)


def shift_tes(objs: ShiftedObjects, coefficient: float, cfg: TESConfig) -> ShiftedObjects:
    """Scale the pT and mass of genuine hadronic taus by ``1 + coefficient * cfg.shift``; MET propagated.

    Genuine: ``Tau_genPartFlav == 5`` (matched to a generator hadronic tau), as CMS applies its
    tau energy scale; jets faking taus keep the jet energy scale.  Without ``genPartFlav`` (data)
    every tau is shifted.
    """
    taus = objs.taus
    counts = ak.to_numpy(ak.num(taus, axis=1))
    pt, phi, mass = _flat(taus.pt), _flat(taus.phi), _flat(taus.mass)
    factor = np.full(len(pt), max(1.0 + coefficient * cfg.shift, 0.0))
    if "genPartFlav" in ak.fields(taus):
        factor = np.where(_flat(taus.genPartFlav) == GENUINE_TAU, factor, 1.0)
    new_pt = pt * factor
    met_pt, met_phi = propagate_met(objs.met_pt, objs.met_phi, counts, phi, pt, new_pt, 0.0)
    return ShiftedObjects(objs.jets, _with_ptmass(taus, new_pt, mass * factor, counts), met_pt, met_phi)


def nominal_objects(events: Any, cfg: SystematicsConfig, is_mc: bool = True) -> ShiftedObjects:
    """Nominal objects: NanoAOD as stored, JER-smeared with the nominal SF on MC if configured."""
    objs = base_objects(events)
    if is_mc and cfg.nominal_jer:
        objs = smear_jets(events, objs, "nominal", cfg.jer, cfg.seed)
    return objs


def varied_objects(
    events: Any,
    variation: str,
    cfg: SystematicsConfig,
    is_mc: bool = True,
    nominal: ShiftedObjects | None = None,
) -> ShiftedObjects:
    """Objects of one shape variation (``SHAPE_VARIATIONS``); ``nominal`` may be passed to reuse it."""
    if variation not in SHAPE_VARIATIONS:
        raise ValueError(f"unknown variation {variation!r}; known: {SHAPE_VARIATIONS}")
    if variation != "nominal" and not is_mc:
        raise ValueError(f"variation {variation!r} is for simulation only")
    if variation.startswith("jer_"):
        return smear_jets(events, base_objects(events), variation[4:], cfg.jer, cfg.seed)
    nom = nominal if nominal is not None else nominal_objects(events, cfg, is_mc)
    if variation == "nominal":
        return nom
    coeff = 1.0 if variation.endswith("_up") else -1.0
    if variation.startswith("jes_"):
        return shift_jes(nom, coeff, cfg.jes)
    return shift_tes(nom, coeff, cfg.tes)


# --------------------------------------------------------------------------- weights


def _flavour_class(hadron_flavour: np.ndarray) -> np.ndarray:
    f = np.abs(np.asarray(hadron_flavour, dtype=np.int64))
    return np.where(f == 5, 5, np.where(f == 4, 4, 0))


def btag_counts(jets: Any, wp: float) -> dict[int, tuple[int, int]]:
    """Per flavour class (5, 4, 0): (tagged jets, all jets) among ``jets``, for efficiencies."""
    flav = _flavour_class(ak.to_numpy(ak.flatten(jets.hadronFlavour, axis=1)))
    tagged = _flat(jets.btagCSVV2) > wp
    return {k: (int(np.sum(tagged & (flav == k))), int(np.sum(flav == k))) for k in (5, 4, 0)}


def btag_event_weights(
    flavour: Any,
    discriminant: Any,
    wp: float,
    cfg: BTagConfig,
    efficiencies: Mapping[int, float] | None = None,
) -> dict[str, np.ndarray]:
    """Fixed-WP b-tag event weights ``P(data)/P(MC)`` over the selected jets of each event.

    ``flavour`` (``Jet_hadronFlavour``) and ``discriminant`` (``Jet_btagCSVV2``) are jagged
    (event, jet).  ``P(MC) = prod_tagged eff * prod_untagged (1 - eff)``, ``P(data)`` the same
    with ``SF * eff``.  Returns ``btag`` (nominal), ``btag_bc_up/down`` (b and c SFs shifted
    together, fully correlated) and ``btag_light_up/down``.
    """
    eff_map = dict(cfg.efficiencies if efficiencies is None else efficiencies)
    counts = ak.to_numpy(ak.num(flavour, axis=1))
    flav = _flavour_class(ak.to_numpy(ak.flatten(flavour, axis=1)))
    tagged = np.asarray(ak.to_numpy(ak.flatten(discriminant, axis=1)), dtype=np.float64) > wp
    eff = np.select([flav == 5, flav == 4], [eff_map[5], eff_map[4]], eff_map[0])
    sf = np.select([flav == 5, flav == 4], [cfg.sf[5][0], cfg.sf[4][0]], cfg.sf[0][0])
    unc = np.select([flav == 5, flav == 4], [cfg.sf[5][1], cfg.sf[4][1]], cfg.sf[0][1])
    heavy = flav != 0
    seg = np.repeat(np.arange(len(counts)), counts)

    def log_prob(e: np.ndarray) -> np.ndarray:
        e = np.clip(e, 1e-12, 1.0 - 1e-12)
        p = np.where(tagged, e, 1.0 - e)
        return np.bincount(seg, weights=np.log(p), minlength=len(counts))

    log_mc = log_prob(eff)
    shifts = {
        "btag": sf,
        "btag_bc_up": np.where(heavy, sf + unc, sf),
        "btag_bc_down": np.where(heavy, sf - unc, sf),
        "btag_light_up": np.where(heavy, sf, sf + unc),
        "btag_light_down": np.where(heavy, sf, sf - unc),
    }
    return {k: np.exp(log_prob(s * eff) - log_mc) for k, s in shifts.items()}


def _fixed_width(arr: Any, width: int) -> np.ndarray:
    padded = ak.fill_none(ak.pad_none(arr, width, axis=1, clip=True), np.nan)
    return np.asarray(ak.to_numpy(padded), dtype=np.float64)


def generator_weights(
    events: Any,
    cfg: WeightConfig | None = None,
    available: Collection[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-event generator weights present in ``events``.

    ``gen`` (``genWeight``), and where the branches exist (and are in ``available``, if given,
    so that every file of a sample yields the same keys): ``scale_up``/``scale_down`` (envelope
    of ``LHEScaleWeight[scale_indices]``, relative to nominal) and ``pdf_up``/``pdf_down``
    (``1 +- std`` of ``LHEPdfWeight`` replicas).  Events lacking the entries get 1.
    """
    cfg = cfg or WeightConfig()
    fields_ = set(events.fields)
    if available is not None:
        fields_ = {f for f in fields_ if f == "genWeight" or f in set(available)}
    n = len(events)
    out: dict[str, np.ndarray] = {}
    out["gen"] = (
        np.asarray(ak.to_numpy(events.genWeight), dtype=np.float64) if "genWeight" in fields_ else np.ones(n)
    )
    if "LHEScaleWeight" in fields_:
        width = max(cfg.scale_indices) + 1
        sw = _fixed_width(events.LHEScaleWeight, width)[:, list(cfg.scale_indices)]
        ok = np.all(np.isfinite(sw), axis=1)
        safe = np.where(ok[:, None], sw, 1.0)
        out["scale_up"] = np.where(ok, np.max(safe, axis=1), 1.0)
        out["scale_down"] = np.where(ok, np.min(safe, axis=1), 1.0)
    if "LHEPdfWeight" in fields_:
        lo, hi = cfg.pdf_replicas
        pw = _fixed_width(events.LHEPdfWeight, hi)[:, lo:hi]
        ok = np.all(np.isfinite(pw), axis=1) & (pw.shape[1] > 1)
        std = np.where(ok, np.std(np.where(ok[:, None], pw, 1.0), axis=1, ddof=1), 0.0)
        out["pdf_up"] = 1.0 + std
        out["pdf_down"] = 1.0 - std
    return out
