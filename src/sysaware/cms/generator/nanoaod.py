"""Built-in generator of CMS NanoAOD-format ROOT files for the ttbar -> tau+jets analysis.

Writes the same on-disk format as real (2015-era) NanoAOD: tree ``Events`` with the real branch
names and dtypes (``nJet`` uint32 counters, ``Jet_pt`` float32, ``Tau_idMVAoldDM`` uint8 bitmask,
...) and a ``Runs`` tree with ``genEventCount``/``genEventSumw``/``genEventSumw2``, so that coffea
``NanoEventsFactory(..., schemaclass=NanoAODSchema)`` reads the files unchanged, cross-references
(``Jet.matched_gen``, ``Tau.matched_gen``, ``GenPart.parent``) included.

Processes (:data:`PROCESSES`): ``ttbar`` (all W decays; GenPart encodes the tau+jets truth),
``single_top``, ``wjets``, ``dy``, ``qcd`` and ``data`` (a Poisson sample of all of them at a given
luminosity with true nuisance values applied, :class:`TrueNuisances`).  Physics:
:mod:`.physics` (particle level) and :mod:`.detector` (detector response).

Event weight of a simulated event: ``xsec_pb * lumi_pb * genWeight / genEventSumw`` with the
physical cross section of :data:`PROCESSES`.  The files are skimmed; ``genEventCount`` and
``genEventSumw`` (equal: every generated event weighs 1 before the generator filter) count the
events before the filter and the skim, and ``genWeight`` is the filter acceptance weight of
``wjets``/``dy``/``qcd`` (1 for the others).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from ...io import atomic_write_text, temporary_path
from ...seeding import rng_for
from . import physics as gp
from .detector import Coll, DetectorShifts, Reco, simulate


@dataclass(frozen=True)
class ProcessInfo:
    """A generated process: cross section [pb] at 13 TeV, role and descriptions."""

    xsec_pb: float
    role: str
    description: str
    generator_filter: str = "none"


#: Multijet cross section [pb] of the generated phase space (>= 4 partons with pT > 35 GeV and
#: |eta| < 2.5).  A model parameter, not a prediction: chosen so that after the default tau+jets
#: selection (``sysaware.cms.objects.selection``) the multijet background is about as large as the
#: ttbar -> tau_h + jets signal, as in the published CMS tau+jets analyses.
QCD_XSEC_PB = 1.0e4
#: QCD events are generated with at least one jet -> tau fake (VLoose) above this pT [GeV].
QCD_FORCED_TAU_PT = 20.0
#: W/Z + jets generator filter: at least this many partons above 20 GeV.
VJETS_MIN_PARTONS = 3

PROCESSES: dict[str, ProcessInfo] = {
    "ttbar": ProcessInfo(831.76, "signal-source", "pp -> ttbar, all decays (NNLO+NNLL sigma); signal = "
                         "exactly one W -> tau_h nu and the other W -> q q' (from GenPart)"),
    "single_top": ProcessInfo(sum(gp.SINGLE_TOP_CHANNELS.values()), "background",
                              "single top: t-channel 216.97 pb, s-channel 10.32 pb, tW 71.7 pb"),
    "wjets": ProcessInfo(61526.7, "background", "W -> l nu (l = e, mu, tau) + jets (NNLO inclusive sigma)",
                         f">= {VJETS_MIN_PARTONS} partons with pT > 20 GeV; genWeight = P(filter)"),
    "dy": ProcessInfo(6025.2, "background", "Z/gamma* -> l l (m > 50 GeV, l = e, mu, tau) + jets",
                      f">= {VJETS_MIN_PARTONS} partons with pT > 20 GeV; genWeight = P(filter)"),
    "qcd": ProcessInfo(QCD_XSEC_PB, "background", "QCD multijet (model normalisation, see QCD_XSEC_PB)",
                       ">= 4 partons with pT > 35 GeV and |eta| < 2.5 (sigma refers to this region); at least "
                       "one jet -> tau fake passing VLoose with pT > 20 GeV is forced, genWeight = P(such a fake)"),
    "data": ProcessInfo(0.0, "data", "pseudo-data: Poisson sample of all processes with TrueNuisances applied"),
}
MC_PROCESSES = tuple(p for p, info in PROCESSES.items() if info.role != "data")


@dataclass(frozen=True)
class TrueNuisances:
    """True values in pseudo-data: signal strength ``mu`` (scales the ttbar tau+jets signal only),
    ``jes``/``tes``/``jer`` shifts in units of their uncertainties (see
    :class:`~.detector.DetectorShifts`; ``jer=None``: data jet resolution = simulation) and
    extra normalisation factors per process."""

    mu: float = 1.0
    jes: float = 0.0
    tes: float = 0.0
    jer: float | None = 0.0
    norm: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mu < 0 or any(v < 0 for v in self.norm.values()):
            raise ValueError(f"mu and norm factors must be >= 0: mu={self.mu}, norm={dict(self.norm)}")
        unknown = set(self.norm) - set(MC_PROCESSES)
        if unknown:
            raise ValueError(f"norm factors for unknown processes {sorted(unknown)}; known: {MC_PROCESSES}")

    def shifts(self) -> DetectorShifts:
        """The detector shifts applied to the pseudo-data."""
        return DetectorShifts(jes=self.jes, tes=self.tes, jer=self.jer)


@dataclass(frozen=True)
class Skim:
    """Event skim applied before writing: >= 1 Tau with pT > ``tau_pt_min`` and >= ``n_jets_min``
    Jets (any origin) with pT > ``jet_pt_min`` and |eta| < ``jet_abs_eta_max``."""

    tau_pt_min: float = 20.0
    n_jets_min: int = 4
    jet_pt_min: float = 20.0
    jet_abs_eta_max: float = 2.5

    def mask(self, reco: Reco) -> np.ndarray:
        """Events passing the skim."""
        n = len(reco.weight)
        tau, jet = reco.collections["Tau"], reco.collections["Jet"]
        t_evt = np.repeat(np.arange(n), tau.counts)
        j_evt = np.repeat(np.arange(n), jet.counts)
        n_tau = np.bincount(t_evt[tau.fields["pt"] > self.tau_pt_min], minlength=n)
        good = (jet.fields["pt"] > self.jet_pt_min) & (np.abs(jet.fields["eta"]) < self.jet_abs_eta_max)
        return (n_tau >= 1) & (np.bincount(j_evt[good], minlength=n) >= self.n_jets_min)


DEFAULT_SKIM = Skim()


@dataclass
class GeneratedSample:
    """Generated events of one process: NanoAOD collections (``Jet`` -> jagged record array,
    scalar branches -> numpy arrays) and the ``Runs`` bookkeeping: events generated before the
    generator filter and the skim, each of weight 1 (so ``gen_event_sumw`` = ``gen_event_count``)."""

    process: str
    collections: dict[str, ak.Array | np.ndarray]
    gen_event_count: int
    gen_event_sumw: float
    gen_event_sumw2: float
    composition: dict[str, int] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.collections["event"])


# ---------------------------------------------------------------------------- NanoAOD dtypes

_F, _I, _U8, _B = "float32", "int32", "uint8", "bool"
#: dtype of every branch written (checked against real 2015 NanoAOD by the tests).
NANOAOD_DTYPES: dict[str, dict[str, str]] = {
    "Jet": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "area": _F, "rawFactor": _F, "btagCSVV2": _F,
            "btagDeepB": _F, "jetId": _I, "puId": _I, "hadronFlavour": _I, "partonFlavour": _I, "genJetIdx": _I,
            "electronIdx1": _I, "electronIdx2": _I, "muonIdx1": _I, "muonIdx2": _I, "nElectrons": _I,
            "nMuons": _I, "nConstituents": _U8, "cleanmask": _U8},
    "GenJet": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "partonFlavour": _I, "hadronFlavour": _U8},
    "GenPart": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "pdgId": _I, "status": _I, "statusFlags": _I,
                "genPartIdxMother": _I},
    "GenVisTau": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "charge": _I, "genPartIdxMother": _I, "status": _I},
    "Tau": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "rawMVAoldDM": _F, "leadTkPtOverTauPt": _F, "charge": _I,
            "decayMode": _I, "jetIdx": _I, "genPartIdx": _I, "idDecayMode": _B, "idDecayModeNewDMs": _B,
            "idMVAoldDM": _U8, "idMVAnewDM": _U8, "idMVAoldDMdR03": _U8, "idAntiEle": _U8, "idAntiEleDeadECal": _B,
            "idAntiMu": _U8, "genPartFlav": _U8, "cleanmask": _U8},
    "Electron": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "deltaEtaSC": _F, "dxy": _F, "dz": _F,
                 "pfRelIso03_all": _F, "charge": _I, "pdgId": _I, "cutBased": _I, "jetIdx": _I, "genPartIdx": _I,
                 "convVeto": _B, "mvaFall17V2Iso_WP80": _B, "mvaFall17V2Iso_WP90": _B, "genPartFlav": _U8,
                 "cleanmask": _U8},
    "Muon": {"pt": _F, "eta": _F, "phi": _F, "mass": _F, "dxy": _F, "dz": _F, "pfRelIso03_all": _F,
             "pfRelIso04_all": _F, "charge": _I, "pdgId": _I, "jetIdx": _I, "genPartIdx": _I, "looseId": _B,
             "mediumId": _B, "tightId": _B, "isGlobal": _B, "isTracker": _B, "isPFcand": _B, "genPartFlav": _U8,
             "cleanmask": _U8},
}
SCALAR_DTYPES: dict[str, str] = {
    "run": "uint32", "luminosityBlock": "uint32", "event": "uint64", "genWeight": _F,
    "MET_pt": _F, "MET_phi": _F, "MET_sumEt": _F, "GenMET_pt": _F, "GenMET_phi": _F,
    "PV_npvs": _I, "PV_npvsGood": _I, "PV_x": _F, "PV_y": _F, "PV_z": _F, "Pileup_nPU": _I, "Pileup_nTrueInt": _F,
    "fixedGridRhoFastjetAll": _F,
}
RUNS_DTYPES: dict[str, str] = {"run": "uint32", "genEventCount": "int64", "genEventSumw": "float64",
                               "genEventSumw2": "float64"}
#: Collections and scalars that real data NanoAOD does not have.
MC_ONLY = ("GenJet", "GenPart", "GenVisTau", "genWeight", "GenMET_pt", "GenMET_phi", "Pileup_nPU", "Pileup_nTrueInt")


def _scalar_dtype(name: str) -> str:
    return "bool" if name.startswith("HLT_") else SCALAR_DTYPES[name]


# ---------------------------------------------------------------------------- reco bookkeeping


def _take(reco: Reco, idx: np.ndarray) -> Reco:
    """Events ``idx`` (any order) of ``reco``."""
    colls = {}
    for name, c in reco.collections.items():
        start = (np.cumsum(c.counts) - c.counts)[idx]
        cnt = c.counts[idx]
        items = np.repeat(start - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
        colls[name] = Coll(cnt, {f: v[items] for f, v in c.fields.items()})
    return Reco(colls, {k: v[idx] for k, v in reco.scalars.items()}, reco.weight[idx], reco.is_signal[idx])


def _concat(parts: list[Reco]) -> Reco:
    first = parts[0]
    colls = {name: Coll(np.concatenate([p.collections[name].counts for p in parts]),
                        {f: np.concatenate([p.collections[name].fields[f] for p in parts]) for f in c.fields})
             for name, c in first.collections.items()}
    return Reco(colls, {k: np.concatenate([p.scalars[k] for p in parts]) for k in first.scalars},
                np.concatenate([p.weight for p in parts]), np.concatenate([p.is_signal for p in parts]))


def _truth(process: str, rng: np.random.Generator, m: int, n_min: int = VJETS_MIN_PARTONS) -> gp.Truth:
    if process == "ttbar":
        return gp.gen_ttbar(rng, m)
    if process == "single_top":
        return gp.gen_single_top(rng, m)
    if process == "wjets":
        return gp.gen_vjets(rng, m, "W", n_min)
    if process == "dy":
        return gp.gen_vjets(rng, m, "Z", n_min)
    if process == "qcd":
        return gp.gen_qcd(rng, m)
    raise ValueError(f"unknown process {process!r}; known: {list(PROCESSES)}")


def _weight_bound(process: str) -> float:
    """Upper bound of genWeight (used to unweight for pseudo-data)."""
    if process in ("wjets", "dy"):
        return gp.vjets_filter_probability("W" if process == "wjets" else "Z", VJETS_MIN_PARTONS)
    return 1.0


_MAX_BATCH = 100_000


def _simulate_batch(process: str, rng: np.random.Generator, m: int, shifts: DetectorShifts | None,
                    n_min: int = VJETS_MIN_PARTONS) -> tuple[Reco, np.ndarray]:
    truth = _truth(process, rng, m, n_min)
    force = QCD_FORCED_TAU_PT if process == "qcd" else None
    reco = simulate(truth, rng, is_data=shifts is not None, shifts=shifts, force_tau_fake=force)
    return reco, truth.weight * reco.weight


def _generate_mc(process: str, n_events: int, rng: np.random.Generator, skim: Skim | None,
                 n_min: int) -> tuple[Reco, int]:
    """``n_events`` events passing filter and skim, and the number generated (weight 1 each) for them."""
    parts: list[Reco] = []
    kept, count, acc = 0, 0, 0.2
    while kept < n_events:
        if count > 1000 * n_events + 2_000_000:
            raise RuntimeError(f"{process}: only {kept} of {n_events} events pass the skim after {count} generated")
        m = int(min(_MAX_BATCH, 1.1 * (n_events - kept) / acc + 200))
        reco, w = _simulate_batch(process, rng, m, None, n_min)
        ok = w > 0
        if skim is not None:
            ok &= skim.mask(reco)
        idx = np.nonzero(ok)[0]
        used = m
        if len(idx) > n_events - kept:
            idx = idx[: n_events - kept]
            used = int(idx[-1]) + 1
        count += used
        sub = _take(reco, idx)
        sub.weight = w[idx]
        parts.append(sub)
        kept += len(idx)
        acc = max(len(idx) / m, 1e-3)
    return _concat(parts), count


#: Pseudo-data refuse more proposals than this (raise the luminosity carefully).
MAX_DATA_PROPOSALS = 4_000_000


def _generate_data(seed: int, lumi_pb: float, truth: TrueNuisances, skim: Skim | None) -> tuple[Reco, dict[str, int]]:
    shifts = truth.shifts()
    parts: list[Reco] = []
    comp: dict[str, int] = {}
    plan = {}
    for p in MC_PROCESSES:
        norm = float(truth.norm.get(p, 1.0))
        scale = max(norm, truth.mu) if p == "ttbar" else norm
        plan[p] = (norm, scale, PROCESSES[p].xsec_pb * lumi_pb * _weight_bound(p) * scale)
    total = sum(v[2] for v in plan.values())
    if total > MAX_DATA_PROPOSALS:
        raise ValueError(f"pseudo-data at {lumi_pb} pb^-1 need about {total:.3g} generated events "
                         f"(limit {MAX_DATA_PROPOSALS}, about 20 us each); use lumi_pb <= "
                         f"{MAX_DATA_PROPOSALS / total * lumi_pb:.0f}")
    for p, (norm, scale, lam) in plan.items():
        rng = rng_for(seed, "cms_generator", "data", p)
        k = int(rng.poisson(lam))
        got = 0
        while k > 0:
            m = min(k, _MAX_BATCH)
            reco, w = _simulate_batch(p, rng, m, shifts)
            factor = np.where(reco.is_signal, truth.mu, norm) if p == "ttbar" else np.full(m, norm)
            ok = rng.uniform(0, 1, m) * _weight_bound(p) * scale < w * factor
            if skim is not None:
                ok &= skim.mask(reco)
            idx = np.nonzero(ok)[0]
            parts.append(_take(reco, idx))
            got += len(idx)
            k -= m
        comp[p] = got
    if not sum(comp.values()):
        raise ValueError(f"no pseudo-data event passes the skim at {lumi_pb} pb^-1")
    reco = _concat([r for r in parts if len(r.weight)] or parts)
    order = rng_for(seed, "cms_generator", "data", "shuffle").permutation(len(reco.weight))
    return _take(reco, order), comp


def _to_collections(reco: Reco, is_data: bool, run: int) -> dict[str, ak.Array | np.ndarray]:
    out: dict[str, ak.Array | np.ndarray] = {}
    n = len(reco.weight)
    idx = np.arange(n, dtype=np.uint64)
    out["run"] = np.full(n, run, dtype=np.uint32)
    out["luminosityBlock"] = (1 + idx // 1000).astype(np.uint32)
    out["event"] = idx + 1
    if not is_data:
        out["genWeight"] = reco.weight.astype(np.float32)
    for name, c in reco.collections.items():
        if is_data and name in MC_ONLY:
            continue
        types = NANOAOD_DTYPES[name]
        out[name] = ak.zip({f: ak.unflatten(np.asarray(v).astype(types[f]), c.counts) for f, v in c.fields.items()})
    for k, v in reco.scalars.items():
        if not (is_data and k in MC_ONLY):
            out[k] = np.asarray(v).astype(_scalar_dtype(k))
    return out


# ---------------------------------------------------------------------------- public API


def generate_process(process: str, n_events: int | None, seed: int, *, truth: TrueNuisances | None = None,
                     lumi_pb: float | None = None, skim: Skim | None = DEFAULT_SKIM,
                     vjets_min_partons: int = VJETS_MIN_PARTONS) -> GeneratedSample:
    """Generate one process as NanoAOD collections.

    Simulation: ``n_events`` events passing the generator filter and ``skim`` (``None``: no skim),
    from ``rng_for(seed, "cms_generator", process)``; ``vjets_min_partons`` sets the W/Z + jets
    filter (0: inclusive; the default is the one of :data:`PROCESSES` and of the pseudo-data).
    ``data``: a Poisson sample of every process in :data:`MC_PROCESSES` at ``lumi_pb`` with
    ``truth`` applied (``n_events`` is not used; the count is random).  The same arguments give
    identical events.
    """
    if process not in PROCESSES:
        raise ValueError(f"unknown process {process!r}; known: {list(PROCESSES)}")
    if process == "data":
        if lumi_pb is None or lumi_pb <= 0:
            raise ValueError("pseudo-data need lumi_pb > 0")
        reco, comp = _generate_data(seed, lumi_pb, truth or TrueNuisances(), skim)
        return GeneratedSample("data", _to_collections(reco, True, run=260627), len(reco.weight),
                               float(len(reco.weight)), float(len(reco.weight)), comp)
    if n_events is None or n_events < 1:
        raise ValueError(f"n_events must be >= 1 for {process!r}")
    reco, count = _generate_mc(process, int(n_events), rng_for(seed, "cms_generator", process), skim,
                               vjets_min_partons)
    comp = {"signal": int(reco.is_signal.sum())} if process == "ttbar" else {}
    return GeneratedSample(process, _to_collections(reco, False, run=1), count, float(count), float(count), comp)


def _uint32_counters(tree: uproot.WritableTree, file: uproot.WritableDirectory) -> None:
    """Make the generated ``nX`` counters uint32 like NanoAOD (uproot writes int32)."""
    try:
        casc = tree._cascading
        for datum in casc._branch_data:
            if datum.get("kind") == "counter":
                datum["dtype"] = np.dtype(">u4")
                datum["fTitle"] = datum["fTitle"][:-1] + "i"
        casc.write_anew(file._file.sink)
    except (AttributeError, KeyError, TypeError) as exc:  # pragma: no cover - depends on uproot internals
        warnings.warn(f"could not write uint32 NanoAOD counters ({exc}); they stay int32", RuntimeWarning, stacklevel=3)


def write_nanoaod(path: str | Path, collections: Mapping[str, ak.Array | np.ndarray],
                  runs: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write ``Events`` (and ``Runs`` if given) to ``path`` atomically (temporary name, then rename).

    ``collections``: jagged record arrays (``Jet`` -> ``nJet``, ``Jet_pt``, ...) and scalar
    branches (numpy arrays named as in NanoAOD).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    branch_types = {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in collections.items()}
    with temporary_path(path) as tmp, uproot.recreate(tmp) as f:
        tree = f.mktree("Events", branch_types, title="Events")
        _uint32_counters(tree, f)
        tree.extend(dict(collections))
        if runs is not None:
            arrays = {k: np.asarray(v).astype(RUNS_DTYPES.get(k, np.asarray(v).dtype)) for k, v in runs.items()}
            f.mktree("Runs", {k: v.dtype for k, v in arrays.items()}, title="Runs").extend(arrays)
    return path


def write_sample(path: str | Path, sample: GeneratedSample) -> Path:
    """Write a :class:`GeneratedSample` (with its ``Runs`` tree unless it is data)."""
    runs = None
    if sample.process != "data":
        runs = {"run": np.array([1]), "genEventCount": np.array([sample.gen_event_count]),
                "genEventSumw": np.array([sample.gen_event_sumw]), "genEventSumw2": np.array([sample.gen_event_sumw2])}
    return write_nanoaod(path, sample.collections, runs)


def generate_sample_files(folder: str | Path, n_events: Mapping[str, int], seed: int, lumi_pb: float,
                          truth: TrueNuisances, *, skim: Skim | None = DEFAULT_SKIM) -> dict[str, Path]:
    """Write ``<process>.root`` for each simulated process in ``n_events``, ``data.root`` (all of
    :data:`MC_PROCESSES` at ``lumi_pb`` with ``truth``), ``data_truth.json`` and ``samples.json``.

    Returns the paths keyed by process, plus ``"samples"`` and ``"truth"`` for the JSON files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    meta: dict[str, dict] = {}
    for p, n in n_events.items():
        if p == "data":
            continue
        s = generate_process(p, n, seed, skim=skim)
        out[p] = write_sample(folder / f"{p}.root", s)
        info = PROCESSES[p]
        meta[p] = {"file": out[p].name, "xsec_pb": info.xsec_pb, "role": info.role, "description": info.description,
                   "generator_filter": info.generator_filter, "genEventCount": s.gen_event_count,
                   "genEventSumw": s.gen_event_sumw, "genEventSumw2": s.gen_event_sumw2, "n_events": s.n_events,
                   "expected_events_in_file": info.xsec_pb * lumi_pb * float(np.sum(s.collections["genWeight"],
                                                                                     dtype=float)) / s.gen_event_sumw,
                   **({"n_signal": s.composition["signal"]} if p == "ttbar" else {})}
    data = generate_process("data", None, seed, truth=truth, lumi_pb=lumi_pb, skim=skim)
    out["data"] = write_sample(folder / "data.root", data)
    truth_doc = {"seed": seed, "lumi_pb": lumi_pb, **{k: v for k, v in asdict(truth).items() if k != "norm"},
                 "norm": dict(truth.norm), "units": {"mu": "signal strength of ttbar -> tau_h + jets",
                                                    "jes": "sigma of the JES table (sysaware.cms.objects.corrections)",
                                                    "tes": "sigma = TESConfig.shift (3 %), genuine taus",
                                                    "jer": "JER scale factor: 0 nominal, +-1 up/down"},
                 "n_events": data.n_events, "n_events_by_process": data.composition}
    out["truth"] = _write_json(folder / "data_truth.json", truth_doc)
    skim_doc = None if skim is None else asdict(skim)
    out["samples"] = _write_json(folder / "samples.json", {
        "seed": seed, "lumi_pb": lumi_pb, "skim": skim_doc,
        "weight_formula": "xsec_pb * lumi_pb * genWeight / genEventSumw",
        "processes": meta, "data": {"file": out["data"].name, "truth": out["truth"].name, "n_events": data.n_events},
    })
    return out


def _write_json(path: Path, doc: dict) -> Path:
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path
