"""Systematic variations of the HiggsML features: tau energy scale, jet energy scale, soft MET.

This follows the published HiggsML / FAIR-Universe recipe (D. Rousseau and V. Estrade's
``systematics.py`` of the HiggsML challenge, reused by the FAIR-Universe HEP-Challenge):

* four-vectors are built from ``pt, eta, phi`` with the tau (hadronic tau) mass 0.8 GeV, a
  massless lepton, massless jets and a massless, purely transverse MET;
* **TES**: ``PRI_tau_pt <- (1 + tes) * PRI_tau_pt``; the MET absorbs the opposite of the change
  of the tau transverse momentum vector, ``MET_vec <- MET_vec - tes * pT_vec(tau, original)``
  (the recipe's ``vmet -= vtau_original.scaleFixedM(scale - 1)``, transverse part only);
* **JES**: ``PRI_jet_leading_pt``, ``PRI_jet_subleading_pt`` and ``PRI_jet_all_pt`` scaled by
  ``1 + jes``; the MET absorbs the opposite of the change of the two leading jets' pT vectors
  (as in the recipe: other jets enter only ``PRI_jet_all_pt``);
* **soft MET**: a random transverse vector, each component Gaussian of width ``sigma`` GeV
  (seeded :class:`numpy.random.Generator`), is added to the MET;
* after each variation every derived feature that depends on the tau, the MET or the jets is
  recomputed with :func:`recompute_derived`: DER_mass_transverse_met_lep, DER_mass_vis,
  DER_pt_h, DER_deltar_tau_lep, DER_pt_tot, DER_sum_pt, DER_pt_ratio_lep_tau,
  DER_met_phi_centrality, and where two jets exist DER_deltaeta_jet_jet, DER_mass_jet_jet,
  DER_prodeta_jet_jet, DER_lep_eta_centrality (NaN where fewer than two jets, as in the reader).

Names: both the ATLAS 2014 names (``PRI_tau_*``, ``PRI_jet_num``, ``DER_deltar_tau_lep``,
``DER_pt_ratio_lep_tau``) and the FAIR-Universe ones (``PRI_had_*``, ``PRI_n_jets``,
``DER_deltar_had_lep``, ``DER_pt_ratio_lep_had``) are accepted; the input's own names are kept.
Undefined values must be NaN (as :mod:`sysaware.higgsml.io` returns them), never -999/-25.

DER_mass_MMC (ATLAS CSV only) cannot be recomputed (the MMC needs the full likelihood fit).
Default, ``mass_mmc="sum_pt_ratio"``: the original HiggsML recipe's linearised rescaling
``DER_mass_MMC * DER_sum_pt(new) / DER_sum_pt(old)`` (NaN stays NaN), which follows the tau
scale to first order but ignores the MET dependence; its author advises not to use
DER_mass_MMC in TES studies.  ``mass_mmc="unchanged"`` leaves it as it is.  Either way
DER_mass_MMC is only approximately shifted; prefer features that are recomputed exactly.

Tau pT cut: the HiggsML preselection cut on the tau pT (20 GeV in the ATLAS file) moves with
the scale, which is unphysical; the recipe's remedy is to cut *after* the variation at a
slightly higher threshold, ``PRI_tau_pt > 22`` GeV (``cut_tau_pt(data, 22.0)`` of the
FAIR-Universe code).  :func:`tau_energy_scale` applies it by default (``tau_pt_cut=22.0``;
``None`` disables); the nominal (tes = 0) sample must be cut the same way for a consistent
reference.  Every variation returns ``(features, kept)``: the shifted features of the kept
events only and the boolean mask of kept events over the input.

Numbers are not rounded to 3 decimals (the recipe rounds; pass ``decimals=3`` to do so).
All functions are pure: the inputs are never modified.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

import numpy as np

from sysaware.higgsml.io import HiggsMLEvents

TAU_MASS = 0.8
"""Tau (hadronic) mass used by the recipe, GeV."""
DEFAULT_TAU_PT_CUT = 22.0
"""The recipe's post-variation tau pT threshold, GeV."""

Features = dict[str, np.ndarray]


def _names(f: Mapping[str, np.ndarray]) -> dict[str, str]:
    if "PRI_tau_pt" in f:
        tau, njet, dr, ratio = "tau", "PRI_jet_num", "DER_deltar_tau_lep", "DER_pt_ratio_lep_tau"
    elif "PRI_had_pt" in f:
        tau, njet, dr, ratio = "had", "PRI_n_jets", "DER_deltar_had_lep", "DER_pt_ratio_lep_had"
    else:
        raise KeyError("features hold neither PRI_tau_pt (ATLAS) nor PRI_had_pt (FAIR-Universe)")
    return {
        "tau_pt": f"PRI_{tau}_pt", "tau_eta": f"PRI_{tau}_eta", "tau_phi": f"PRI_{tau}_phi",
        "njet": njet, "deltar": dr, "ratio": ratio,
    }


def _xyz(pt, eta, phi):
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def _mass(e, px, py, pz):
    return np.sqrt(np.abs(e**2 - px**2 - py**2 - pz**2))


def _jets(f: Mapping[str, np.ndarray], njet_name: str):
    """(px, py, pz, e, eta, present) of the leading and subleading jets, zeros where absent."""
    njet = np.asarray(f[njet_name], dtype=np.float64)
    out = []
    for which, nmin in (("leading", 0), ("subleading", 1)):
        pt = np.asarray(f[f"PRI_jet_{which}_pt"], dtype=np.float64)
        eta = np.asarray(f[f"PRI_jet_{which}_eta"], dtype=np.float64)
        phi = np.asarray(f[f"PRI_jet_{which}_phi"], dtype=np.float64)
        present = (njet > nmin) & np.isfinite(pt) & np.isfinite(eta) & np.isfinite(phi)
        pt0, eta0, phi0 = (np.where(present, x, 0.0) for x in (pt, eta, phi))
        px, py, pz = _xyz(pt0, eta0, phi0)
        out.append((px, py, pz, np.sqrt(px**2 + py**2 + pz**2), eta0, present))
    return out


def met_phi_centrality(lep_phi, tau_phi, met_phi) -> np.ndarray:
    """HiggsML DER_met_phi_centrality: sqrt(2) when the MET is midway (in phi) between the
    lepton and the tau, below 1 when outside; 0 where undefined (recipe convention)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = np.sin(tau_phi - lep_phi)
        a = np.nan_to_num(np.sin(met_phi - lep_phi) / den, posinf=0.0, neginf=0.0)
        b = np.nan_to_num(np.sin(tau_phi - met_phi) / den, posinf=0.0, neginf=0.0)
        res = (a + b) / np.sqrt(a**2 + b**2)
    return np.nan_to_num(res, posinf=0.0, neginf=0.0)


def eta_centrality(eta, eta_j1, eta_j2) -> np.ndarray:
    """HiggsML DER_lep_eta_centrality: exp(-4 (eta - mean)^2 / (eta_j1 - eta_j2)^2)."""
    center = 0.5 * (eta_j1 + eta_j2)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.nan_to_num(1.0 / (eta_j1 - center) ** 2, posinf=0.0, neginf=0.0)
    return np.exp(-width * (eta - center) ** 2)


def recompute_derived(features: Mapping[str, np.ndarray]) -> Features:
    """A copy of ``features`` with every tau/MET/jet-dependent DER_* recomputed from the PRI_*.

    DER_mass_MMC is copied unchanged (it cannot be recomputed).  Entries needing two jets are
    NaN for events with fewer than two jets.
    """
    n = _names(features)
    f = {k: np.array(v, dtype=np.float64) for k, v in features.items()}
    tpt, teta, tphi = f[n["tau_pt"]], f[n["tau_eta"]], f[n["tau_phi"]]
    lpt, leta, lphi = f["PRI_lep_pt"], f["PRI_lep_eta"], f["PRI_lep_phi"]
    met, mphi = f["PRI_met"], f["PRI_met_phi"]

    tx, ty, tz = _xyz(tpt, teta, tphi)
    te = np.sqrt(tx**2 + ty**2 + tz**2 + TAU_MASS**2)
    lx, ly, lz = _xyz(lpt, leta, lphi)
    le = np.sqrt(lx**2 + ly**2 + lz**2)
    mx, my = met * np.cos(mphi), met * np.sin(mphi)
    (j1x, j1y, j1z, j1e, j1eta, _), (j2x, j2y, j2z, j2e, j2eta, two) = _jets(f, n["njet"])

    # transverse mass: massless transverse lepton + MET
    f["DER_mass_transverse_met_lep"] = np.sqrt(np.abs((lpt + met) ** 2 - (lx + mx) ** 2 - (ly + my) ** 2))
    f["DER_mass_vis"] = _mass(le + te, lx + tx, ly + ty, lz + tz)
    hx, hy = lx + tx + mx, ly + ty + my
    f["DER_pt_h"] = np.hypot(hx, hy)
    dphi = np.mod(tphi - lphi + 3 * np.pi, 2 * np.pi) - np.pi
    f[n["deltar"]] = np.sqrt(dphi**2 + (teta - leta) ** 2)
    f["DER_pt_tot"] = np.hypot(hx + j1x + j2x, hy + j1y + j2y)
    f["DER_sum_pt"] = lpt + tpt + f["PRI_jet_all_pt"]
    with np.errstate(divide="ignore", invalid="ignore"):
        f[n["ratio"]] = lpt / tpt
    f["DER_met_phi_centrality"] = met_phi_centrality(lphi, tphi, mphi)

    nan = np.full_like(tpt, np.nan)
    f["DER_deltaeta_jet_jet"] = np.where(two, np.abs(j1eta - j2eta), nan)
    f["DER_mass_jet_jet"] = np.where(two, _mass(j1e + j2e, j1x + j2x, j1y + j2y, j1z + j2z), nan)
    f["DER_prodeta_jet_jet"] = np.where(two, j1eta * j2eta, nan)
    f["DER_lep_eta_centrality"] = np.where(two, eta_centrality(leta, j1eta, j2eta), nan)
    return f


def _accepts_events(variation: Callable[..., tuple[Features, np.ndarray]]) -> Callable[..., Any]:
    """Let a variation of feature mappings take a :class:`HiggsMLEvents` too (weights, labels follow the kept mask)."""

    @functools.wraps(variation)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> tuple[Any, np.ndarray]:
        if isinstance(data, HiggsMLEvents):
            feats, kept = variation(data.features, *args, **kwargs)
            return data.with_features(feats, kept), kept
        return variation(data, *args, **kwargs)

    return wrapper


def _finish(old: Mapping[str, np.ndarray], new: Features, names: dict[str, str], *,
            mass_mmc: str, tau_pt_cut: float | None, decimals: int | None) -> tuple[Features, np.ndarray]:
    new = recompute_derived(new)
    if "DER_mass_MMC" in new:
        if mass_mmc == "sum_pt_ratio":
            with np.errstate(divide="ignore", invalid="ignore"):
                new["DER_mass_MMC"] = np.asarray(old["DER_mass_MMC"], dtype=np.float64) * (
                    new["DER_sum_pt"] / np.asarray(old["DER_sum_pt"], dtype=np.float64))
        elif mass_mmc != "unchanged":
            raise ValueError(f"mass_mmc must be 'sum_pt_ratio' or 'unchanged', not {mass_mmc!r}")
    if decimals is not None:
        new = {k: np.round(v, decimals) for k, v in new.items()}
    tpt = new[names["tau_pt"]]
    kept = np.ones(tpt.shape, dtype=bool) if tau_pt_cut is None else tpt > tau_pt_cut
    return {k: v[kept] for k, v in new.items()}, kept


@overload
def tau_energy_scale(data: HiggsMLEvents, tes: float, **kw) -> tuple[HiggsMLEvents, np.ndarray]: ...
@overload
def tau_energy_scale(data: Mapping[str, np.ndarray], tes: float, **kw) -> tuple[Features, np.ndarray]: ...


@_accepts_events
def tau_energy_scale(data, tes: float, *, tau_pt_cut: float | None = DEFAULT_TAU_PT_CUT,
                     mass_mmc: Literal["sum_pt_ratio", "unchanged"] = "sum_pt_ratio",
                     decimals: int | None = None):
    """Shift the tau energy scale by the relative amount ``tes`` (0 = nominal, 0.01 = +1 %).

    ``PRI_tau_pt *= 1 + tes``; MET vector ``-= tes * pT_vec(tau)``; derived features recomputed;
    DER_mass_MMC per ``mass_mmc``; events with ``PRI_tau_pt <= tau_pt_cut`` after the shift are
    dropped.  ``data`` is a feature mapping or a :class:`HiggsMLEvents`; returns the shifted
    data of the kept events (same type) and the boolean kept mask over the input events.
    """
    n = _names(data)
    f = {k: np.array(v, dtype=np.float64) for k, v in data.items()}
    pt, phi = f[n["tau_pt"]], f[n["tau_phi"]]
    dx, dy = tes * pt * np.cos(phi), tes * pt * np.sin(phi)
    f[n["tau_pt"]] = pt * (1.0 + tes)
    _shift_met(f, -dx, -dy)
    return _finish(data, f, n, mass_mmc=mass_mmc, tau_pt_cut=tau_pt_cut, decimals=decimals)


@_accepts_events
def jet_energy_scale(data, jes: float, *, tau_pt_cut: float | None = None,
                     mass_mmc: Literal["sum_pt_ratio", "unchanged"] = "sum_pt_ratio",
                     decimals: int | None = None):
    """Shift the jet energy scale by the relative amount ``jes`` (0 = nominal).

    PRI_jet_leading_pt, PRI_jet_subleading_pt, PRI_jet_all_pt ``*= 1 + jes`` (NaN stays NaN);
    MET vector ``-= jes * (pT_vec(j1) + pT_vec(j2))`` for the jets present; derived features
    recomputed.  No cut by default (``tau_pt_cut`` to apply one).  Returns ``(data, kept)``.
    """
    n = _names(data)
    f = {k: np.array(v, dtype=np.float64) for k, v in data.items()}
    (j1x, j1y, *_), (j2x, j2y, *_) = _jets(f, n["njet"])
    for name in ("PRI_jet_leading_pt", "PRI_jet_subleading_pt", "PRI_jet_all_pt"):
        f[name] = f[name] * (1.0 + jes)
    _shift_met(f, -jes * (j1x + j2x), -jes * (j1y + j2y))
    return _finish(data, f, n, mass_mmc=mass_mmc, tau_pt_cut=tau_pt_cut, decimals=decimals)


@_accepts_events
def soft_met(data, sigma: float, rng: np.random.Generator | int | None = None, *,
             tau_pt_cut: float | None = None,
             mass_mmc: Literal["sum_pt_ratio", "unchanged"] = "sum_pt_ratio",
             decimals: int | None = None):
    """Add a random soft-term MET vector: px, py each ~ Normal(0, sigma) GeV, per event.

    ``rng`` is a :class:`numpy.random.Generator` or a seed (for reproducibility; ``None`` is
    only allowed with ``sigma == 0``).  Derived features recomputed.  Returns ``(data, kept)``.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, not {sigma}")
    n = _names(data)
    f = {k: np.array(v, dtype=np.float64) for k, v in data.items()}
    size = f["PRI_met"].shape
    if sigma == 0:
        dx = dy = np.zeros(size)
    else:
        if rng is None:
            raise ValueError("soft_met needs a seeded numpy Generator (or a seed) when sigma > 0")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        dx = gen.normal(0.0, sigma, size=size)
        dy = gen.normal(0.0, sigma, size=size)
    _shift_met(f, dx, dy)
    return _finish(data, f, n, mass_mmc=mass_mmc, tau_pt_cut=tau_pt_cut, decimals=decimals)


def _shift_met(f: Features, dx: np.ndarray, dy: np.ndarray) -> None:
    """Add (dx, dy) to the MET vector in place (of the copy ``f``)."""
    met, phi = f["PRI_met"], f["PRI_met_phi"]
    mx, my = met * np.cos(phi) + dx, met * np.sin(phi) + dy
    # rows without a change keep their MET bit for bit (a zero shift reproduces the nominal)
    changed = (np.asarray(dx) != 0.0) | (np.asarray(dy) != 0.0)
    f["PRI_met"] = np.where(changed, np.hypot(mx, my), met)
    f["PRI_met_phi"] = np.where(changed, np.arctan2(my, mx), phi)
