"""The 8 high-level features of the published tau+jets study, computed columnar.

Definitions follow the published code (``llayer/cmsopen``, ``columnar/selection.py::hl_features``)
except where stated.  "Jets" are the selected, tau-cleaned jets of the event (all of them, no
maximum multiplicity); "tau" is the single selected tau.

* ``aplanarity``, ``sphericity``: from the normalised momentum tensor
  ``S^{ab} = sum_i p_i^a p_i^b / sum_i |p_i|^2`` over the jets **and the tau**; with eigenvalues
  ``l1 >= l2 >= l3`` (``sum = 1``), ``sphericity = 1.5 (l2 + l3)`` and ``aplanarity = 1.5 l3``.
  (The published code normalises by ``1 + sum |p|^2``; the ``1`` is dropped here so that a
  perfectly isotropic event gives exactly 1; the difference is below 1e-4 for real events.)
* ``chargeEta``: ``tau charge * |tau eta|`` -- the published code uses the absolute eta (so the
  feature carries the charge sign and the centrality); pass ``signed_eta=True`` for ``q * eta``.
* ``MET_met``: the missing transverse momentum (after any propagated object shift).
* ``deltaPhiTauMet``: ``|Delta phi(tau, MET)|`` in ``[0, pi]``.
* ``mt``: ``sqrt(2 pT_tau MET (1 - cos Delta phi))`` (massless tau; the published code uses the
  tau transverse energy ``E_T`` instead of ``pT``, a per-mille difference).
* ``mTauJet``: invariant mass of the four-vector sum of the tau and all jets (as published).
* ``ht``: scalar sum of the jets' pT **plus the tau pT** (the published code sums transverse
  energies ``E_T = E pT/|p|`` of jets and tau; pT is used here).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "aplanarity",
    "chargeEta",
    "MET_met",
    "deltaPhiTauMet",
    "mt",
    "mTauJet",
    "ht",
    "sphericity",
)


def _np(x: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(x), dtype=np.float64)


def delta_phi(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """``phi1 - phi2`` wrapped to ``[-pi, pi)``."""
    return (np.asarray(phi1) - np.asarray(phi2) + np.pi) % (2 * np.pi) - np.pi


def momentum_tensor_eigenvalues(px: Any, py: Any, pz: Any) -> np.ndarray:
    """Eigenvalues ``(n, 3)``, descending, of ``S^{ab} = sum p^a p^b / sum |p|^2`` per event.

    ``px, py, pz`` are jagged (event, object) arrays.  Events with no momentum give zeros.
    """
    comps = (px, py, pz)
    tensor = np.empty((len(px), 3, 3))
    for a in range(3):
        for b in range(a, 3):
            s = _np(ak.sum(comps[a] * comps[b], axis=1))
            tensor[:, a, b] = s
            tensor[:, b, a] = s
    norm = tensor[:, 0, 0] + tensor[:, 1, 1] + tensor[:, 2, 2]
    safe = np.where(norm > 0, norm, 1.0)
    tensor /= safe[:, None, None]
    eig = np.linalg.eigvalsh(tensor)[:, ::-1]  # ascending -> descending
    eig = np.clip(eig, 0.0, None)  # round-off below zero on planar events
    eig[norm <= 0] = 0.0
    return eig


def sphericity_aplanarity(px: Any, py: Any, pz: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(sphericity, aplanarity) = (1.5 (l2 + l3), 1.5 l3)`` of the momentum tensor."""
    eig = momentum_tensor_eigenvalues(px, py, pz)
    return 1.5 * (eig[:, 1] + eig[:, 2]), 1.5 * eig[:, 2]


def compute_features(
    jets: Any,
    tau: Any,
    met_pt: Any,
    met_phi: Any,
    signed_eta: bool = False,
) -> dict[str, np.ndarray]:
    """The 8 features per event.

    ``jets``: jagged records with ``pt, eta, phi, mass``; ``tau``: one record per event with
    ``pt, eta, phi, mass, charge``; ``met_pt``, ``met_phi``: per event.  Returns name -> float64.
    """
    j_pt, j_eta, j_phi, j_m = (ak.values_astype(jets[k], np.float64) for k in ("pt", "eta", "phi", "mass"))
    j_px = j_pt * np.cos(j_phi)
    j_py = j_pt * np.sin(j_phi)
    j_pz = j_pt * np.sinh(j_eta)
    j_e = np.sqrt(j_px**2 + j_py**2 + j_pz**2 + j_m**2)

    t_pt, t_eta, t_phi, t_m = _np(tau.pt), _np(tau.eta), _np(tau.phi), _np(tau.mass)
    t_q = _np(tau.charge)
    t_px, t_py, t_pz = t_pt * np.cos(t_phi), t_pt * np.sin(t_phi), t_pt * np.sinh(t_eta)
    t_e = np.sqrt(t_px**2 + t_py**2 + t_pz**2 + t_m**2)

    met = _np(met_pt)
    mphi = _np(met_phi)

    # momentum tensor over jets + tau
    ones = np.ones(len(t_px), dtype=np.int64)
    t3 = [ak.unflatten(c, ones) for c in (t_px, t_py, t_pz)]
    px = ak.concatenate([j_px, t3[0]], axis=1)
    py = ak.concatenate([j_py, t3[1]], axis=1)
    pz = ak.concatenate([j_pz, t3[2]], axis=1)
    sph, apl = sphericity_aplanarity(px, py, pz)

    dphi = delta_phi(t_phi, mphi)
    mt = np.sqrt(np.clip(2.0 * t_pt * met * (1.0 - np.cos(dphi)), 0.0, None))

    e_sum = _np(ak.sum(j_e, axis=1)) + t_e
    px_sum = _np(ak.sum(j_px, axis=1)) + t_px
    py_sum = _np(ak.sum(j_py, axis=1)) + t_py
    pz_sum = _np(ak.sum(j_pz, axis=1)) + t_pz
    m2 = e_sum**2 - px_sum**2 - py_sum**2 - pz_sum**2
    m_taujet = np.sqrt(np.clip(m2, 0.0, None))

    ht = _np(ak.sum(j_pt, axis=1)) + t_pt
    eta_term = t_eta if signed_eta else np.abs(t_eta)
    return {
        "aplanarity": apl,
        "chargeEta": t_q * eta_term,
        "MET_met": met,
        "deltaPhiTauMet": np.abs(dphi),
        "mt": mt,
        "mTauJet": m_taujet,
        "ht": ht,
        "sphericity": sph,
    }


def selected_event_features(
    events: Any,
    result: Any,
    met_pt: np.ndarray | None = None,
    met_phi: np.ndarray | None = None,
    signed_eta: bool = False,
) -> dict[str, np.ndarray]:
    """Features and event ids of the events passing a :class:`~sysaware.cms.objects.selection.SelectionResult`.

    Uses the result's selected jets and its leading selected tau; MET from ``met_pt``/``met_phi``
    (per event of ``events``, e.g. a variation's recomputed MET) or else ``events.MET``.
    Returns the 8 features (float64) plus ``run``, ``luminosityBlock``, ``event``.
    """
    m = np.asarray(result.mask, dtype=bool)
    met_pt = _np(events.MET.pt) if met_pt is None else np.asarray(met_pt, dtype=np.float64)
    met_phi = _np(events.MET.phi) if met_phi is None else np.asarray(met_phi, dtype=np.float64)
    out = compute_features(result.jets[m], result.taus[m][:, 0], met_pt[m], met_phi[m], signed_eta=signed_eta)
    out["run"] = ak.to_numpy(events.run[m]).astype(np.uint32)
    out["luminosityBlock"] = ak.to_numpy(events.luminosityBlock[m]).astype(np.uint32)
    out["event"] = ak.to_numpy(events.event[m]).astype(np.uint64)
    return out
