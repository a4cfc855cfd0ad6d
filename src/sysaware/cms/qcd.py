"""Data-driven QCD multijet template of the published study: the 0-b-tag region of data, reweighted.

Events of the data that pass the whole selection except the b-tag requirement and have no
b-tagged jet make the template; each is weighted by the probability that at least one of its
selected jets would be tagged, ``P(>= 1 tag) = 1 - prod_j (1 - f_j)``, with ``f`` the per-jet
mistag rate (configurable; data carry no jet flavour, so one rate for all jets, by default the
light-flavour tagging efficiency of :class:`~sysaware.cms.objects.corrections.BTagConfig`).  The
template's normalisation floats in the fit (``qcd_norm``).  Not subtracted: the small ttbar
and electroweak contamination of the 0-tag region (documented limitation, as in the study).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from .objects.selection import SelectionConfig


def control_selection(selection: SelectionConfig) -> SelectionConfig:
    """The selection without its b-tag requirement (the 0-tag events are picked afterwards)."""
    return replace(selection, n_btag_min=0)


def qcd_template(arrays: Mapping[str, np.ndarray], mistag_rate: float) -> dict[str, np.ndarray]:
    """The 0-tag events of ``arrays`` (one variation of ingested data) with weight ``P(>= 1 tag)``."""
    if not 0.0 < mistag_rate < 1.0:
        raise ValueError(f"cms.qcd_mistag_rate must be in (0, 1), got {mistag_rate}")
    zero_tag = arrays["n_btag"] == 0
    out = {k: np.asarray(v)[zero_tag] for k, v in arrays.items()}
    p_tag = 1.0 - (1.0 - mistag_rate) ** out["n_jets"].astype(float)
    out["weight_gen"] = np.ones(len(p_tag))
    out["weight_btag"] = p_tag
    out["weight"] = p_tag
    return out
