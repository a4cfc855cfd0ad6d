"""Parton/particle-level event generation for the built-in NanoAOD generator (see ``generator``).

Everything is vectorised over events with a seeded :class:`numpy.random.Generator`.  Four-vectors
are ``(N, 4)`` float64 arrays ``(px, py, pz, E)`` in GeV.  Each process function returns a
:class:`Truth`: the NanoAOD-style ``GenPart`` list (one copy per particle, NanoAOD status and
statusFlags conventions), the jet-forming partons, the visible hadronic taus, the prompt
electrons/muons and the neutrino momentum sum.  Decays are genuine two-body decays in the rest
frame followed by a boost (top -> W b, W -> f f', Z -> l l, tau -> nu + hadrons, tau -> l nu nu via
the Michel spectrum); spin correlations and tau polarisation are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SQRT_S = 13000.0
M_TOP, G_TOP = 172.5, 1.42
M_W, G_W = 80.379, 2.085
M_Z, G_Z = 91.1876, 2.4952
M_TAU, M_B, M_E, M_MU, M_PI = 1.77686, 4.78, 0.000511, 0.10566, 0.13957
#: W branching ratios (PDG): e, mu, tau, hadrons.
BR_W = np.array([0.1071, 0.1063, 0.1138, 0.6741]) / 1.0013
W_E, W_MU, W_TAU, W_HAD = 0, 1, 2, 3
#: tau branching ratios: e nu nu, mu nu nu, hadrons.
BR_TAU = np.array([0.1782, 0.1739, 0.6479])
#: generator-level hadronic decay modes (NanoAOD GenVisTau_status code) and their fractions.
TAU_HAD_MODES = np.array([0, 1, 2, 10, 11])
TAU_HAD_FRACTIONS = np.array([0.18, 0.40, 0.17, 0.155, 0.095])
#: NanoAOD stores GenVisTau above this visible pT [GeV].
GENVISTAU_PT_MIN = 10.0
#: W+ -> (up-type, anti-down-type) hadronic pairs with CKM weights.
_W_HAD_PAIRS = np.array([[2, -1], [2, -3], [4, -3], [4, -1]])
_W_HAD_PROBS = np.array([0.4745, 0.0255, 0.4745, 0.0255])

# NanoAOD GenPart_statusFlags bits
F_PROMPT, F_DECAYED, F_TAUDEC, F_PROMPTTAUDEC = 1, 2, 4, 8
F_DIRECTTAUDEC, F_DIRECTPROMPTTAUDEC, F_HARD, F_FROMHARD = 16, 32, 128, 256
F_HARDTAUDEC, F_DIRECTHARDTAUDEC, F_BEFOREFSR = 512, 1024, 2048
F_FIRST, F_LAST, F_LASTBEFOREFSR = 4096, 8192, 16384
FLAGS_HARD = F_PROMPT | F_HARD | F_FROMHARD | F_BEFOREFSR | F_FIRST | F_LAST | F_LASTBEFOREFSR
FLAGS_TAUDEC = (
    F_TAUDEC | F_PROMPTTAUDEC | F_DIRECTTAUDEC | F_DIRECTPROMPTTAUDEC | F_FROMHARD | F_HARDTAUDEC
    | F_DIRECTHARDTAUDEC | F_FIRST | F_LAST
)
FLAGS_EXTRA = F_PROMPT | F_FROMHARD | F_FIRST | F_LAST


# --------------------------------------------------------------------------- kinematics


def p4_from_ptetaphim(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray | float) -> np.ndarray:
    """(N, 4) four-vectors from pT, eta, phi, mass."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + np.asarray(m, dtype=float) ** 2)
    return np.stack([px, py, pz, e], axis=1)


def ptetaphim(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pT, eta, phi, mass of (N, 4) four-vectors (mass clipped at 0)."""
    pt = np.hypot(p[:, 0], p[:, 1])
    eta = np.arcsinh(p[:, 2] / np.maximum(pt, 1e-9))
    m2 = p[:, 3] ** 2 - (p[:, 0] ** 2 + p[:, 1] ** 2 + p[:, 2] ** 2)
    return pt, eta, np.arctan2(p[:, 1], p[:, 0]), np.sqrt(np.maximum(m2, 0.0))


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost (N, 4) four-vectors by velocities ``beta`` (N, 3)."""
    b2 = np.sum(beta**2, axis=1)
    gamma = 1.0 / np.sqrt(np.maximum(1.0 - b2, 1e-300))
    bp = np.sum(beta * p[:, :3], axis=1)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    out = np.empty_like(p)
    out[:, :3] = p[:, :3] + (g2 * bp + gamma * p[:, 3])[:, None] * beta
    out[:, 3] = gamma * (p[:, 3] + bp)
    return out


def two_body(rng: np.random.Generator, parent: np.ndarray, m_parent: np.ndarray, m1: np.ndarray | float,
             m2: np.ndarray | float, cos_theta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-body decays of ``parent`` (mass ``m_parent``) into masses m1, m2, returned in the lab.

    The direction of the first daughter in the parent frame is isotropic, or has polar angle
    ``cos_theta`` about the z axis (uniform azimuth).
    """
    n = len(parent)
    m1 = np.broadcast_to(np.asarray(m1, dtype=float), (n,))
    m2 = np.broadcast_to(np.asarray(m2, dtype=float), (n,))
    mp = np.maximum(m_parent, m1 + m2 + 1e-9)
    q = np.sqrt(np.maximum((mp**2 - (m1 + m2) ** 2) * (mp**2 - (m1 - m2) ** 2), 0.0)) / (2 * mp)
    cos = rng.uniform(-1.0, 1.0, n) if cos_theta is None else cos_theta
    sin = np.sqrt(1.0 - cos**2)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    k = np.stack([q * sin * np.cos(phi), q * sin * np.sin(phi), q * cos], axis=1)
    d1 = np.concatenate([k, np.sqrt(q**2 + m1**2)[:, None]], axis=1)
    d2 = np.concatenate([-k, np.sqrt(q**2 + m2**2)[:, None]], axis=1)
    beta = parent[:, :3] / parent[:, 3:4]
    return boost(d1, beta), boost(d2, beta)


def breit_wigner(rng: np.random.Generator, m0: float, width: float, n: int, lo: float, hi: float) -> np.ndarray:
    """Masses from a Breit-Wigner (Cauchy) truncated to [lo, hi]."""
    a, b = np.arctan(2 * (lo - m0) / width), np.arctan(2 * (hi - m0) / width)
    return m0 + 0.5 * width * np.tan(rng.uniform(a, b, n))


def pareto_pt(rng: np.random.Generator, n: int, pt_min: float, alpha: float, pt_max: float = 3000.0) -> np.ndarray:
    """pT from dN/dpT ~ pT^-(alpha+1) above ``pt_min`` (truncated at ``pt_max``)."""
    u_max = 1.0 - (pt_min / pt_max) ** alpha
    return pt_min * (1.0 - rng.uniform(0.0, u_max, n)) ** (-1.0 / alpha)


def system_p4(rng: np.random.Generator, mass: np.ndarray, recoil_px: np.ndarray, recoil_py: np.ndarray,
              y_sigma: float) -> np.ndarray:
    """Four-vector of a system of given mass balancing ``recoil`` in the transverse plane.

    The rapidity is Gaussian (width ``y_sigma``), limited so that the energy fits in sqrt(s)/2.
    """
    px, py = -recoil_px, -recoil_py
    mt = np.sqrt(mass**2 + px**2 + py**2)
    y_max = np.arccosh(np.maximum(0.5 * SQRT_S / mt, 1.0 + 1e-9))
    y = np.clip(rng.normal(0.0, y_sigma, len(mass)), -y_max, y_max)
    return np.stack([px, py, mt * np.sinh(y), mt * np.cosh(y)], axis=1)


# --------------------------------------------------------------------------- truth record


@dataclass
class Truth:
    """Generator-level content of ``n`` events (flat per-object dicts, each with an ``evt`` column).

    ``genpart``: NanoAOD GenPart columns (``genPartIdxMother`` already a per-event index).
    ``partons``: jet-forming partons (``pdgId``, ``hflav`` = hadron flavour 0/4/5).
    ``taus``: visible hadronic taus (``charge``, ``dm`` = GenVisTau status code, ``gp`` = GenPart
    index of the tau).  ``leptons``: prompt e/mu (``pdgId``, ``gp``, ``flav`` 1 or 15 = from tau).
    ``weight``: per-event generator (bias) weight; ``is_signal``: ttbar -> tau_h + jets truth.
    """

    n: int
    weight: np.ndarray
    is_signal: np.ndarray
    genpart: dict[str, np.ndarray]
    partons: dict[str, np.ndarray]
    taus: dict[str, np.ndarray]
    leptons: dict[str, np.ndarray]
    nu_px: np.ndarray
    nu_py: np.ndarray


def _kin(p4: np.ndarray) -> dict[str, np.ndarray]:
    pt, eta, phi, m = ptetaphim(p4)
    return {"pt": pt, "eta": eta, "phi": phi, "mass": m}


class TruthBuilder:
    """Collects particles of ``n`` events; GenPart entries are fixed slots (one per event, maybe
    absent) followed by a variable list of extra partons."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._count = np.zeros(n, dtype=np.int64)
        self._local: list[np.ndarray] = []
        self._gp: list[dict[str, np.ndarray]] = []
        self._pending: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []
        self._partons: list[dict[str, np.ndarray]] = []
        self._taus: list[dict[str, np.ndarray]] = []
        self._leptons: list[dict[str, np.ndarray]] = []
        self.nu = np.zeros((n, 2))

    def gp(self, p4: np.ndarray, pdg: np.ndarray | int, status: np.ndarray | int, flags: np.ndarray | int,
           mother: int = -1, present: np.ndarray | None = None, keep_mass: np.ndarray | bool = False) -> int:
        """Add a GenPart slot (arrays over all events, masked by ``present``); returns its slot id.

        NanoAOD stores the mass of tops, W/Z and taus only (``keep_mass``); 0 otherwise.
        """
        present = np.ones(self.n, dtype=bool) if present is None else present
        evt = np.nonzero(present)[0]
        local = np.full(self.n, -1, dtype=np.int64)
        local[evt] = self._count[evt]
        self._count[evt] += 1
        self._local.append(local)
        kin = _kin(p4[evt])
        kin["mass"] = np.where(_per_event(keep_mass, self.n)[evt], kin["mass"], 0.0)
        mom = self._local[mother][evt] if mother >= 0 else np.full(len(evt), -1, dtype=np.int64)
        self._gp.append({"evt": evt, "idx": local[evt], **kin, "pdgId": _per_event(pdg, self.n)[evt],
                         "status": _per_event(status, self.n)[evt], "statusFlags": _per_event(flags, self.n)[evt],
                         "genPartIdxMother": mom})
        return len(self._local) - 1

    def local(self, slot: int, evt: np.ndarray) -> np.ndarray:
        """Per-event GenPart index of ``slot`` for events ``evt`` (-1 where absent)."""
        return self._local[slot][evt]

    def extra_gp(self, evt: np.ndarray, p4: np.ndarray, pdg: np.ndarray, status: int, flags: int) -> None:
        """Variable-length GenPart entries (e.g. extra partons), appended after all slots."""
        self._pending.append((evt, p4, {"pdgId": pdg, "status": np.full(len(evt), status),
                                        "statusFlags": np.full(len(evt), flags)}))

    def parton(self, evt: np.ndarray, p4: np.ndarray, pdg: np.ndarray, hflav: np.ndarray) -> None:
        """Jet-forming parton(s)."""
        self._partons.append({"evt": evt, **_kin(p4), "pdgId": pdg, "hflav": hflav})

    def lepton(self, evt: np.ndarray, p4: np.ndarray, pdg: np.ndarray, gp: np.ndarray, flav: int) -> None:
        """Prompt electron/muon(s) (``flav`` 1 prompt, 15 from a tau decay)."""
        kin = _kin(p4)
        self._leptons.append({"evt": evt, "pt": kin["pt"], "eta": kin["eta"], "phi": kin["phi"], "pdgId": pdg,
                              "gp": gp, "flav": np.full(len(evt), flav)})

    def tau_h(self, evt: np.ndarray, vis: np.ndarray, charge: np.ndarray, dm: np.ndarray, gp: np.ndarray) -> None:
        """Visible hadronic tau(s)."""
        self._taus.append({"evt": evt, **_kin(vis), "charge": charge, "dm": dm, "gp": gp})

    def neutrinos(self, evt: np.ndarray, p4: np.ndarray) -> None:
        """Add neutrino momenta to the per-event sum."""
        np.add.at(self.nu, evt, p4[:, :2])

    # ---- composite decays

    def w_decay(self, rng: np.random.Generator, w: np.ndarray, m_w: np.ndarray, sign: np.ndarray, w_slot: int,
                mode: np.ndarray, present: np.ndarray | None = None) -> None:
        """Decay W bosons (charge ``sign`` = +-1) in ``mode`` (W_E/W_MU/W_TAU/W_HAD) where ``present``."""
        n = self.n
        present = np.ones(n, dtype=bool) if present is None else present
        w = np.where(present[:, None], w, np.array([0.0, 0.0, 0.0, M_W]))
        m_w = np.where(present, m_w, M_W)
        f1, f2 = two_body(rng, w, m_w, np.where(mode == W_TAU, M_TAU, 0.0), 0.0)
        had = _W_HAD_PAIRS[rng.choice(4, n, p=_W_HAD_PROBS)]
        lep_pdg = np.select([mode == W_E, mode == W_MU], [11, 13], 15)
        # W+ -> l+ nu (l+ has a negative pdgId), W+ -> u dbar
        pdg1 = np.where(mode == W_HAD, had[:, 0], -lep_pdg) * sign
        pdg2 = np.where(mode == W_HAD, had[:, 1], lep_pdg + 1) * sign
        is_had, is_tau = mode == W_HAD, mode == W_TAU
        s1 = self.gp(f1, pdg1, np.select([is_had, is_tau], [23, 2], 1),
                     np.where(is_tau, FLAGS_HARD | F_DECAYED, FLAGS_HARD), w_slot, present, keep_mass=is_tau)
        self.gp(f2, pdg2, np.where(is_had, 23, 1), FLAGS_HARD, w_slot, present)
        hq = np.nonzero(present & is_had)[0]
        for f, pdg in ((f1, pdg1), (f2, pdg2)):
            self.parton(hq, f[hq], pdg[hq], np.where(np.abs(pdg[hq]) == 4, 4, 0))
        lp = np.nonzero(present & ((mode == W_E) | (mode == W_MU)))[0]
        self.lepton(lp, f1[lp], pdg1[lp], self.local(s1, lp), 1)
        lv = np.nonzero(present & ~is_had)[0]
        self.neutrinos(lv, f2[lv])
        tt = np.nonzero(present & is_tau)[0]
        self.tau_decay(rng, tt, f1[tt], -sign[tt], s1)

    def tau_decay(self, rng: np.random.Generator, evt: np.ndarray, tau: np.ndarray, charge: np.ndarray,
                  tau_slot: int) -> None:
        """Decay taus (one per listed event, charge +-1) hanging from GenPart ``tau_slot``."""
        k = len(evt)
        kind = rng.choice(3, k, p=BR_TAU)  # 0 e, 1 mu, 2 hadronic
        dm = TAU_HAD_MODES[rng.choice(len(TAU_HAD_MODES), k, p=TAU_HAD_FRACTIONS)]
        m_vis = _visible_mass(rng, dm)
        m_lep = np.where(kind == 0, M_E, M_MU)
        e_lep = np.maximum(0.5 * _michel(rng, k) * M_TAU, m_lep + 1e-6)
        m_nunu = np.sqrt(np.maximum(M_TAU**2 + m_lep**2 - 2 * M_TAU * e_lep, 1e-8))
        m_a = np.where(kind == 2, m_vis, m_lep)
        m_b = np.where(kind == 2, 0.0, m_nunu)
        a, b = two_body(rng, tau, np.full(k, M_TAU), m_a, m_b)
        nul, nut = two_body(rng, b, m_b, 0.0, 0.0)
        nut = np.where((kind == 2)[:, None], b, nut)
        s = -charge  # tau- (charge -1) -> nu_tau (+16)
        lep = kind < 2
        lep_pdg = np.where(kind == 0, 11, 13) * s
        on, on_lep = np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        on[evt], on_lep[evt[lep]] = True, True
        self.gp(_scatter(nut, evt, self.n), _scatter(16 * s, evt, self.n), 1, FLAGS_TAUDEC, tau_slot, on)
        s_lep = self.gp(_scatter(a, evt, self.n), _scatter(lep_pdg, evt, self.n), 1, FLAGS_TAUDEC, tau_slot, on_lep)
        self.gp(_scatter(nul, evt, self.n), _scatter(-(lep_pdg + s), evt, self.n), 1, FLAGS_TAUDEC, tau_slot, on_lep)
        self.neutrinos(evt, nut)
        self.neutrinos(evt[lep], nul[lep])
        self.lepton(evt[lep], a[lep], lep_pdg[lep], self.local(s_lep, evt[lep]), 15)
        h = kind == 2
        self.tau_h(evt[h], a[h], charge[h], dm[h], self.local(tau_slot, evt[h]))

    def finish(self, weight: np.ndarray | None = None, is_signal: np.ndarray | None = None) -> Truth:
        """Assemble the :class:`Truth` (flat dicts sorted by event)."""
        gp = list(self._gp)
        for evt, p4, cols in self._pending:
            order = np.argsort(evt, kind="stable")
            evt, p4 = evt[order], p4[order]
            rank = np.arange(len(evt)) - np.searchsorted(evt, evt, side="left")
            idx = self._count[evt] + rank
            np.add.at(self._count, evt, 1)
            kin = _kin(p4)
            kin["mass"] = np.zeros(len(evt))
            gp.append({"evt": evt, "idx": idx, **kin, **{k: v[order] for k, v in cols.items()},
                       "genPartIdxMother": np.full(len(evt), -1, dtype=np.int64)})
        genpart = _concat_sorted(gp, ("evt", "idx"))
        genpart.pop("idx")
        return Truth(
            n=self.n,
            weight=np.ones(self.n) if weight is None else weight,
            is_signal=np.zeros(self.n, dtype=bool) if is_signal is None else is_signal,
            genpart=genpart,
            partons=_concat_sorted(self._partons, ("evt",), ("evt", "pt", "eta", "phi", "mass", "pdgId", "hflav")),
            taus=_concat_sorted(self._taus, ("evt",), ("evt", "pt", "eta", "phi", "mass", "charge", "dm", "gp")),
            leptons=_concat_sorted(self._leptons, ("evt",), ("evt", "pt", "eta", "phi", "pdgId", "gp", "flav")),
            nu_px=self.nu[:, 0].copy(),
            nu_py=self.nu[:, 1].copy(),
        )


_FLOAT_COLUMNS = ("pt", "eta", "phi", "mass")


def _per_event(v: np.ndarray | float | bool, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(v), (n,))


def _scatter(v: np.ndarray, evt: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n,) + v.shape[1:], dtype=v.dtype)
    out[evt] = v
    return out


def _concat_sorted(parts: list[dict[str, np.ndarray]], keys: tuple[str, ...],
                   empty: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    if not parts:
        return {c: np.zeros(0, dtype=np.float64 if c in _FLOAT_COLUMNS else np.int64) for c in empty}
    out = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    key = out["evt"] * 4096 + out["idx"] if keys == ("evt", "idx") else out["evt"]
    order = np.argsort(key, kind="stable")
    return {c: v[order] for c, v in out.items()}


def _michel(rng: np.random.Generator, n: int) -> np.ndarray:
    """Lepton energy fraction x = 2E/m_tau from the unpolarised Michel spectrum 2x^2(3-2x)."""
    out = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        x = rng.uniform(0.0, 1.0, len(todo))
        ok = rng.uniform(0.0, 1.0, len(todo)) < x**2 * (3 - 2 * x)
        out[todo[ok]] = x[ok]
        todo = todo[~ok]
    return out


def _visible_mass(rng: np.random.Generator, dm: np.ndarray) -> np.ndarray:
    """Visible mass of a hadronic tau decay by decay mode (pi, rho, a1 line shapes)."""
    n = len(dm)
    rho = breit_wigner(rng, 0.7753, 0.149, n, 0.3, 1.6)
    a1 = breit_wigner(rng, 1.23, 0.42, n, 0.45, 1.7)
    a1pi0 = breit_wigner(rng, 1.35, 0.40, n, 0.6, 1.74)
    return np.select([dm == 0, dm == 1, dm == 11], [np.full(n, M_PI), rho, a1pi0], a1)


# --------------------------------------------------------------------------- extra partons


#: Flavours of extra (ISR / W,Z+jets) partons and their probabilities.
_EXTRA_FLAVOURS = np.array([21, 2, -2, 1, -1, 3, -3, 4, -4, 5, -5])
_EXTRA_PROBS = np.array([0.69, 0.07, 0.04, 0.06, 0.03, 0.03, 0.03, 0.02, 0.02, 0.005, 0.005])
#: probability that a gluon jet contains a c (b) hadron from gluon splitting.
G_TO_CC, G_TO_BB = 0.05, 0.015


def extra_partons(rng: np.random.Generator, counts: np.ndarray, pt_min: float, alpha: float, eta_sigma: float,
                  pt_max: float = 1500.0, probs: np.ndarray = _EXTRA_PROBS) -> tuple[np.ndarray, ...]:
    """``counts[i]`` partons in event i: (evt, p4, pdgId, hadron flavour)."""
    evt = np.repeat(np.arange(len(counts)), counts)
    k = len(evt)
    pt = pareto_pt(rng, k, pt_min, alpha, pt_max)
    eta = np.clip(rng.normal(0.0, eta_sigma, k), -4.9, 4.9)
    p4 = p4_from_ptetaphim(pt, eta, rng.uniform(-np.pi, np.pi, k), 0.0)
    pdg = _EXTRA_FLAVOURS[rng.choice(len(_EXTRA_FLAVOURS), k, p=probs / probs.sum())]
    u = rng.uniform(0.0, 1.0, k)
    split = np.where(u < G_TO_BB, 5, np.where(u < G_TO_BB + G_TO_CC, 4, 0))
    hflav = np.where(pdg == 21, split, np.where(np.abs(pdg) >= 4, np.abs(pdg), 0))
    return evt, p4, pdg, hflav


def _concat_parts(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(c) for c in zip(*parts))


def _isr(rng: np.random.Generator, n: int, mean: float, pt_min: float = 15.0, alpha: float = 1.5,
         eta_sigma: float = 1.8) -> tuple[np.ndarray, ...]:
    """Initial-state radiation: hard (Poisson ``mean`` above ``pt_min``) plus soft 8-15 GeV partons."""
    hard = extra_partons(rng, rng.poisson(mean, n), pt_min, alpha, eta_sigma)
    soft = extra_partons(rng, rng.poisson(0.8, n), 8.0, 1.0, 2.0, pt_max=pt_min)
    return _concat_parts(hard, soft)


# --------------------------------------------------------------------------- processes


def _recoil(parts: tuple[np.ndarray, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    evt, p4 = parts[0], parts[1]
    return np.bincount(evt, weights=p4[:, 0], minlength=n), np.bincount(evt, weights=p4[:, 1], minlength=n)


def _add_extra(tb: TruthBuilder, parts: tuple[np.ndarray, ...]) -> None:
    """Register extra partons as jets and as GenPart entries (status 23)."""
    evt, p4, pdg, hflav = parts
    tb.parton(evt, p4, pdg, hflav)
    tb.extra_gp(evt, p4, pdg, 23, FLAGS_EXTRA)


def _top_decay(rng: np.random.Generator, tb: TruthBuilder, top: np.ndarray, m_top: np.ndarray, sign: np.ndarray,
               top_slot: int, w_mode: np.ndarray) -> None:
    """t -> W b (anti-top where ``sign`` is -1) with the W decayed in ``w_mode``."""
    n = tb.n
    m_w = breit_wigner(rng, M_W, G_W, n, M_W - 25.0, M_W + 15.0)
    w, b = two_body(rng, top, m_top, m_w, M_B)
    w_slot = tb.gp(w, 24 * sign, 22, FLAGS_HARD, top_slot, keep_mass=True)
    tb.gp(b, 5 * sign, 23, FLAGS_HARD, top_slot)
    tb.parton(np.arange(n), b, 5 * sign, np.full(n, 5))
    tb.w_decay(rng, w, m_w, sign, w_slot, w_mode)


def gen_ttbar(rng: np.random.Generator, n: int) -> Truth:
    """pp -> ttbar (+ ISR) at 13 TeV, all W decay modes.

    The pair mass is ``m_t1 + m_t2 + Gamma(1.4, 80 GeV)`` (mean about 460 GeV), the pair rapidity
    Gaussian (width 0.85), the pair pT balances the ISR partons, and the production angle follows
    ``1 + 2 cos^2(theta)`` in the pair frame (top pT: mean about 110 GeV).  ``is_signal``: exactly
    one W -> tau nu with a hadronic tau decay of visible pT > 10 GeV (a NanoAOD ``GenVisTau``) and
    the other W -> q q'.
    """
    parts = _isr(rng, n, 1.6)
    tb = TruthBuilder(n)
    m1 = breit_wigner(rng, M_TOP, G_TOP, n, M_TOP - 15, M_TOP + 15)
    m2 = breit_wigner(rng, M_TOP, G_TOP, n, M_TOP - 15, M_TOP + 15)
    m_tt = m1 + m2 + rng.gamma(1.4, 80.0, n)
    rx, ry = _recoil(parts, n)
    system = system_p4(rng, m_tt, rx + rng.normal(0, 3, n), ry + rng.normal(0, 3, n), 0.85)
    # production angle in the pair frame: density 1 + 2 cos^2 (a 0.6 / 0.4 mixture of flat and cos^2)
    cos = np.where(rng.uniform(0, 1, n) < 0.6, rng.uniform(-1, 1, n), np.cbrt(rng.uniform(-1, 1, n)))
    t1, t2 = two_body(rng, system, m_tt, m1, m2, cos)
    s1 = tb.gp(t1, 6, 22, FLAGS_HARD, keep_mass=True)
    s2 = tb.gp(t2, -6, 22, FLAGS_HARD, keep_mass=True)
    mode1, mode2 = rng.choice(4, n, p=BR_W), rng.choice(4, n, p=BR_W)
    one = np.ones(n, dtype=np.int64)
    _top_decay(rng, tb, t1, m1, one, s1, mode1)
    _top_decay(rng, tb, t2, m2, -one, s2, mode2)
    _add_extra(tb, parts)
    truth = tb.finish()
    # NanoAOD-observable definition: the hadronic tau has a GenVisTau entry (visible pT > 10 GeV)
    n_tau_h = np.bincount(truth.taus["evt"][truth.taus["pt"] > GENVISTAU_PT_MIN], minlength=n)
    n_had = (mode1 == W_HAD).astype(int) + (mode2 == W_HAD)
    truth.is_signal = (n_tau_h == 1) & (n_had == 1) & ((mode1 == W_TAU) | (mode2 == W_TAU))
    return truth


#: Single-top channels and their 13 TeV cross sections [pb] (top + antitop).
SINGLE_TOP_CHANNELS = {"t-channel": 136.02 + 80.95, "s-channel": 6.35 + 3.97, "tW": 35.85 + 35.85}
_TOP_FRACTION = {"t-channel": 136.02 / 216.97, "s-channel": 6.35 / 10.32, "tW": 0.5}


def gen_single_top(rng: np.random.Generator, n: int) -> Truth:
    """Single top: t-channel (t + forward light quark + soft b), s-channel (t + b), tW (t + W)."""
    names = list(SINGLE_TOP_CHANNELS)
    xs = np.array(list(SINGLE_TOP_CHANNELS.values()))
    ch = rng.choice(len(names), n, p=xs / xs.sum())
    tch, sch, tw = ch == 0, ch == 1, ch == 2
    top_frac = np.array([_TOP_FRACTION[c] for c in names])[ch]
    sign = np.where(rng.uniform(0, 1, n) < top_frac, 1, -1)
    b_probs = np.zeros(len(_EXTRA_FLAVOURS))
    b_probs[9] = 1.0
    sb = extra_partons(rng, tch.astype(int), 12.0, 2.2, 1.6, probs=b_probs)  # t-channel: b from g -> b bbar
    sb[2][:] = -5 * sign[sb[0]]
    parts = _concat_parts(_isr(rng, n, 1.0), sb)
    m_t = breit_wigner(rng, M_TOP, G_TOP, n, M_TOP - 15, M_TOP + 15)
    m_w = breit_wigner(rng, M_W, G_W, n, M_W - 25.0, M_W + 15.0)
    m_x = np.select([tch, sch], [0.0, M_B], m_w)
    m_sys = m_t + m_x + rng.gamma(2.0, np.select([tch, sch], [55.0, 70.0], 80.0), n)
    rx, ry = _recoil(parts, n)
    system = system_p4(rng, m_sys, rx, ry, 1.0)
    forward = (1 - 2 * rng.beta(1.0, 3.0, n)) * np.where(rng.uniform(0, 1, n) < 0.5, 1, -1)
    t, x = two_body(rng, system, m_sys, m_t, m_x, np.where(tch, forward, rng.uniform(-1, 1, n)))
    tb = TruthBuilder(n)
    st = tb.gp(t, 6 * sign, 22, FLAGS_HARD, keep_mass=True)
    _top_decay(rng, tb, t, m_t, sign, st, rng.choice(4, n, p=BR_W))
    q_pdg = np.where(rng.uniform(0, 1, n) < 0.6, 2, 1) * sign
    p_pdg = np.select([tch, sch], [q_pdg, -5 * sign], -24 * sign)
    tb.gp(x, p_pdg, 23, FLAGS_HARD, present=tch | sch)
    qs = np.nonzero(tch | sch)[0]
    tb.parton(qs, x[qs], p_pdg[qs], np.where(np.abs(p_pdg[qs]) == 5, 5, 0))
    sw = tb.gp(x, p_pdg, 22, FLAGS_HARD, present=tw, keep_mass=True)
    tb.w_decay(rng, x, m_x, -sign, sw, rng.choice(4, n, p=BR_W), present=tw)
    _add_extra(tb, parts)
    return tb.finish()


#: Jet-multiplicity model of W/Z + jets: P(0 partons above 20 GeV) and the ratio P(n+1)/P(n), n >= 1.
VJETS_MULTIPLICITY = {"W": (0.64, 0.33), "Z": (0.66, 0.31)}


def vjets_filter_probability(boson: str, n_min: int) -> float:
    """P(at least ``n_min`` partons with pT > 20 GeV) in the W/Z + jets multiplicity model."""
    p0, r = VJETS_MULTIPLICITY[boson]
    return 1.0 if n_min <= 0 else (1.0 - p0) * r ** (n_min - 1)


def gen_vjets(rng: np.random.Generator, n: int, boson: str, n_min: int = 0) -> Truth:
    """W -> l nu or Z/gamma* -> l l (l = e, mu, tau) + jets.

    The number of partons above 20 GeV follows :data:`VJETS_MULTIPLICITY` (falling geometrically);
    with ``n_min`` > 0 only events with at least ``n_min`` such partons are generated (sampled
    directly from the truncated distribution) and the event weight is the probability of that
    region, :func:`vjets_filter_probability`.
    """
    p0, r = VJETS_MULTIPLICITY[boson]
    if n_min <= 0:
        k = np.where(rng.uniform(0, 1, n) < p0, 0, rng.geometric(1 - r, n))
    else:
        k = n_min + rng.geometric(1 - r, n) - 1
    k = np.minimum(k, 9)
    soft = extra_partons(rng, rng.poisson(1.8, n), 8.0, 1.0, 2.0, pt_max=20.0)
    parts = _concat_parts(extra_partons(rng, k, 20.0, 2.0, 1.9), soft)
    rx, ry = _recoil(parts, n)
    tb = TruthBuilder(n)
    if boson == "W":
        m = breit_wigner(rng, M_W, G_W, n, 50.0, 150.0)
        v = system_p4(rng, m, rx + rng.normal(0, 4, n), ry + rng.normal(0, 4, n), 1.9)
        sign = np.where(rng.uniform(0, 1, n) < 0.57, 1, -1)
        sw = tb.gp(v, 24 * sign, 22, FLAGS_HARD, keep_mass=True)
        tb.w_decay(rng, v, m, sign, sw, rng.integers(0, 3, n))
    else:
        tail = rng.uniform(0, 1, n) < 0.08  # gamma* continuum ~ 1/m^2 on [50, 200]
        m_tail = 1.0 / rng.uniform(1 / 200.0, 1 / 50.0, n)
        m = np.where(tail, m_tail, breit_wigner(rng, M_Z, G_Z, n, 50.0, 200.0))
        v = system_p4(rng, m, rx + rng.normal(0, 4, n), ry + rng.normal(0, 4, n), 1.9)
        sz = tb.gp(v, 23, 22, FLAGS_HARD, keep_mass=True)
        flav = rng.integers(0, 3, n)
        m_l = np.select([flav == 0, flav == 1], [M_E, M_MU], M_TAU)
        lm, lp = two_body(rng, v, m, m_l, m_l)
        pdg = np.select([flav == 0, flav == 1], [11, 13], 15)
        is_tau = flav == 2
        for p4, q in ((lm, -1), (lp, 1)):
            s = tb.gp(p4, -q * pdg, np.where(is_tau, 2, 1), np.where(is_tau, FLAGS_HARD | F_DECAYED, FLAGS_HARD),
                      sz, keep_mass=is_tau)
            le = np.nonzero(~is_tau)[0]
            tb.lepton(le, p4[le], -q * pdg[le], tb.local(s, le), 1)
            te = np.nonzero(is_tau)[0]
            tb.tau_decay(rng, te, p4[te], np.full(len(te), q), s)
    _add_extra(tb, parts)
    return tb.finish(weight=np.full(n, vjets_filter_probability(boson, n_min)))


#: Flavours of the two hard QCD partons.
_QCD_PROBS = np.array([0.55, 0.12, 0.07, 0.10, 0.05, 0.04, 0.03, 0.014, 0.014, 0.006, 0.006])


def qcd_partons(rng: np.random.Generator, m: int, pt_min: float) -> tuple[np.ndarray, ...]:
    """Multijet parton configurations of ``m`` proposals: (evt, p4, pdgId, hadron flavour).

    Two hard partons back to back (pT_hat ~ pT^-4 above ``pt_min`` + 5 GeV, independent Gaussian
    rapidities), ``2 + Geometric(0.6)`` extra partons above ``pt_min`` (pT^-3.5), Poisson(0.8)
    partons between 15 GeV and ``pt_min`` and soft 8-15 GeV ones; the hard pair absorbs the recoil.
    """
    pt_hat = pareto_pt(rng, m, pt_min + 5.0, 3.0)
    phi = rng.uniform(-np.pi, np.pi, m)
    hard_extra = extra_partons(rng, np.minimum(1 + rng.geometric(0.6, m), 6), pt_min, 2.5, 1.8)
    mid = extra_partons(rng, rng.poisson(0.8, m), 15.0, 1.5, 2.0, pt_max=pt_min)
    soft = extra_partons(rng, rng.poisson(1.2, m), 8.0, 1.0, 2.0, pt_max=15.0)
    extra = _concat_parts(hard_extra, mid)
    ex, ey = _recoil(extra, m)
    evt = np.concatenate([np.arange(m), np.arange(m)])
    px = np.concatenate([pt_hat * np.cos(phi) - ex / 2, -pt_hat * np.cos(phi) - ex / 2])
    py = np.concatenate([pt_hat * np.sin(phi) - ey / 2, -pt_hat * np.sin(phi) - ey / 2])
    eta = np.clip(rng.normal(0.0, 1.5, 2 * m), -4.9, 4.9)
    hard = p4_from_ptetaphim(np.hypot(px, py), eta, np.arctan2(py, px), 0.0)
    pdg = _EXTRA_FLAVOURS[rng.choice(len(_EXTRA_FLAVOURS), 2 * m, p=_QCD_PROBS / _QCD_PROBS.sum())]
    u = rng.uniform(0.0, 1.0, 2 * m)
    hflav = np.where(pdg == 21, np.where(u < G_TO_BB, 5, np.where(u < G_TO_BB + G_TO_CC, 4, 0)),
                     np.where(np.abs(pdg) >= 4, np.abs(pdg), 0))
    return _concat_parts((evt, hard, pdg, hflav), extra, soft)


def gen_qcd(rng: np.random.Generator, n: int, n_min: int = 4, pt_min: float = 35.0, eta_max: float = 2.5) -> Truth:
    """Multijet events with at least ``n_min`` partons of pT > ``pt_min`` and |eta| < ``eta_max``
    (rejection sampling of :func:`qcd_partons`; the cross section refers to this region)."""
    kept: list[tuple[np.ndarray, ...]] = []
    n_kept, acc = 0, 0.5
    while n_kept < n:
        m = int(1.2 * (n - n_kept) / acc) + 100
        evt, p4, pdg, hflav = qcd_partons(rng, m, pt_min)
        pt = np.hypot(p4[:, 0], p4[:, 1])
        eta = np.arcsinh(p4[:, 2] / np.maximum(pt, 1e-9))
        good = np.bincount(evt, weights=((pt > pt_min) & (np.abs(eta) < eta_max)).astype(float), minlength=m) >= n_min
        acc = max(good.mean(), 0.01)
        new_index = np.cumsum(good) - 1 + n_kept
        sel = good[evt]
        kept.append((new_index[evt[sel]], p4[sel], pdg[sel], hflav[sel]))
        n_kept += int(good.sum())
    evt, p4, pdg, hflav = _concat_parts(*kept)
    sel = evt < n
    tb = TruthBuilder(n)
    _add_extra(tb, (evt[sel], p4[sel], pdg[sel], hflav[sel]))
    return tb.finish()
