"""Correction tables of the tau+jets analysis, shared by the variations and the NanoAOD generator.

:class:`BinnedTable` holds values in (|eta|, pT) bins; :data:`DEFAULT_JES_TABLE` is the relative
jet-energy-scale uncertainty, :class:`JESConfig`, :class:`JERConfig`, :class:`TESConfig` and
:class:`BTagConfig` the settings of the JES, JER, TES and b-tag corrections that
:mod:`.variations` applies.  The built-in NanoAOD generator (:mod:`sysaware.cms.generator`)
shifts its pseudo-data with the same tables, so the fit's nuisance parameters have the meaning
the generator gave them.

Default tables are **approximate** (rounded numbers of the right size for 2015-era CMS, not
official CMS payloads); give the official ones through the config for physics results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BinnedTable:
    """Values in bins of |eta| (rows) and pT (columns); outside the edges the edge bin is used."""

    abs_eta_edges: tuple[float, ...]
    pt_edges: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float)
        if v.shape != (len(self.abs_eta_edges) - 1, len(self.pt_edges) - 1):
            raise ValueError(
                f"table values have shape {v.shape}, edges need "
                f"({len(self.abs_eta_edges) - 1}, {len(self.pt_edges) - 1})"
            )
        for name in ("abs_eta_edges", "pt_edges"):
            e = np.asarray(getattr(self, name), dtype=float)
            if np.any(np.diff(e) <= 0):
                raise ValueError(f"{name} must increase strictly: {tuple(e)}")

    def lookup(self, pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
        """Value for each (pT, |eta|) pair (flat numpy arrays)."""
        v = np.asarray(self.values, dtype=float)
        ie = np.clip(np.searchsorted(self.abs_eta_edges, abs_eta, side="right") - 1, 0, v.shape[0] - 1)
        ip = np.clip(np.searchsorted(self.pt_edges, pt, side="right") - 1, 0, v.shape[1] - 1)
        return v[ie, ip]


#: Approximate relative JES uncertainty (total), rows |eta| bins, columns pT bins [GeV].
DEFAULT_JES_TABLE = BinnedTable(
    abs_eta_edges=(0.0, 1.3, 2.0, 2.5, 3.0, 5.0),
    pt_edges=(0.0, 30.0, 50.0, 100.0, 200.0, np.inf),
    values=(
        (0.030, 0.022, 0.016, 0.012, 0.010),
        (0.035, 0.026, 0.019, 0.015, 0.012),
        (0.045, 0.033, 0.025, 0.019, 0.015),
        (0.060, 0.045, 0.034, 0.026, 0.020),
        (0.080, 0.060, 0.045, 0.035, 0.030),
    ),
)


@dataclass(frozen=True)
class JESConfig:
    """Jet energy scale: relative uncertainty table and the MET-propagation threshold."""

    uncertainty: BinnedTable = DEFAULT_JES_TABLE
    met_jet_pt_min: float = 15.0


@dataclass(frozen=True)
class JERConfig:
    """Jet energy resolution scale factors in |eta| bins (defaults approximate, 2015-like).

    ``sf_up``/``sf_down`` are the +-1 sigma scale factors.  ``relative_resolution`` is the MC
    relative pT resolution used for the stochastic smearing and the gen-match pT window.
    """

    abs_eta_edges: tuple[float, ...] = (0.0, 0.8, 1.3, 1.9, 2.5, 3.0, 5.0)
    sf_nominal: tuple[float, ...] = (1.07, 1.09, 1.11, 1.14, 1.20, 1.25)
    sf_up: tuple[float, ...] = (1.10, 1.12, 1.15, 1.20, 1.30, 1.37)
    sf_down: tuple[float, ...] = (1.04, 1.06, 1.07, 1.08, 1.10, 1.13)
    relative_resolution: float = 0.10
    match_dr: float = 0.2
    match_pt_nsigma: float = 3.0
    met_jet_pt_min: float = 15.0

    def __post_init__(self) -> None:
        n = len(self.abs_eta_edges) - 1
        for name in ("sf_nominal", "sf_up", "sf_down"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"JERConfig.{name} needs {n} values (one per |eta| bin)")

    def scale_factor(self, which: str, abs_eta: np.ndarray) -> np.ndarray:
        """SF (``which`` in nominal/up/down) per jet."""
        table = {"nominal": self.sf_nominal, "up": self.sf_up, "down": self.sf_down}[which]
        v = np.asarray(table, dtype=float)
        i = np.clip(np.searchsorted(self.abs_eta_edges, abs_eta, side="right") - 1, 0, len(v) - 1)
        return v[i]


#: JER SF table of the published 2011 code (``llayer/cmsopen`` ``columnar/jetmet.py``).
JER_2011_PUBLISHED = JERConfig(
    abs_eta_edges=(0.0, 0.5, 1.1, 1.7, 2.3, 5.0),
    sf_nominal=(1.052, 1.057, 1.096, 1.134, 1.288),
    sf_up=(1.115, 1.114, 1.161, 1.228, 1.488),
    sf_down=(0.990, 1.001, 1.032, 1.042, 1.089),
)


@dataclass(frozen=True)
class TESConfig:
    """Tau energy scale: relative one-sigma shift (published: 3 %)."""

    shift: float = 0.03


@dataclass(frozen=True)
class BTagConfig:
    """Per-flavour b-tag SF (value, one-sigma) and MC tagging efficiencies at the working point.

    Flavour keys are ``Jet_hadronFlavour`` classes: 5 (b), 4 (c), 0 (light and gluon).  The
    defaults are a simple documented parametrisation (SF_b = 0.95 +- 0.03, SF_c = 0.95 +- 0.06,
    SF_light = 1.10 +- 0.10; efficiencies typical of CSVv2 medium in ttbar: 0.65, 0.15, 0.015),
    not a CMS payload.  With ``measure_efficiencies`` the ingestion measures the efficiencies on
    the sample itself (selected jets of events passing every cut but the b-tag one, nominal
    variation) and uses those; a flavour without jets keeps the configured value.
    """

    sf: Mapping[int, tuple[float, float]] = field(
        default_factory=lambda: {5: (0.95, 0.03), 4: (0.95, 0.06), 0: (1.10, 0.10)}
    )
    efficiencies: Mapping[int, float] = field(default_factory=lambda: {5: 0.65, 4: 0.15, 0: 0.015})
    measure_efficiencies: bool = False
