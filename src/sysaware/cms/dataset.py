"""Ingested events as the training and the fit use them: per fit sample, variation and split.

The ingestion (:mod:`.ingestion.ingest`) writes one ``.npz`` per config sample with the arrays of every
variation under ``<variation>/<name>``.  :func:`load_fit_samples` turns them into
:class:`FitSample` s: the ttbar sample split into ``ttbar_taujets`` and ``ttbar_other`` by the
generator record, weights in expected events (``weight * xsec * lumi / sum_weights``), the
train/valid/test label of every event, and for every shifted variation the row of each
nominal event's shifted copy (INFERNO's pairs).  :func:`check_fit_samples` checks their weights
and features before anything is trained (see :mod:`sysaware.input_checks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..input_checks import NegativeWeights, check_features, check_weights
from ..io import save_npz
from .model import TTBAR_SAMPLES
from .objects.features import FEATURE_NAMES
from .samples import SPLITS, split_labels

ID_KEYS = ("run", "luminosityBlock", "event")
#: weight-level systematics: the ingestion's weight names of their up and down variations
WEIGHT_VARIATIONS = {"btag_bc": ("weight_btag_bc_up", "weight_btag_bc_down"),
                     "btag_light": ("weight_btag_light_up", "weight_btag_light_down")}


def save_ingested(path: str | Path, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Atomic ``.npz`` with every variation's arrays as ``<variation>/<name>``."""
    save_npz(path, **{f"{var}/{k}": np.asarray(v) for var, d in arrays.items() for k, v in d.items()})


def load_ingested(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Inverse of :func:`save_ingested`."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as f:
        for key in f.files:
            var, name = key.split("/", 1)
            out.setdefault(var, {})[name] = f[key]
    return out


@dataclass
class Variation:
    """Events of one variation of one fit sample."""

    x: np.ndarray  # (n, n_features) float32
    weight: np.ndarray  # expected events per event
    split: np.ndarray  # 0 train, 1 valid, 2 test
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # weight-level variations, same scale


@dataclass
class FitSample:
    """One sample of the fit: its nominal events, shifted copies and their pairing."""

    name: str
    nominal: Variation
    shifted: dict[str, Variation] = field(default_factory=dict)  # "jes_up", ...
    pairs: dict[str, np.ndarray] = field(default_factory=dict)  # variation -> row of the copy, or -1

    def split_weight(self, split: int) -> float:
        """Expected events of the nominal events in ``split``."""
        return float(self.nominal.weight[self.nominal.split == split].sum())

    def split_scale(self, split: int) -> float:
        """Factor making a split's events add up to the whole sample's expected yield."""
        part = self.split_weight(split)
        return float(self.nominal.weight.sum()) / part if part > 0 else 0.0


def _ids(d: Mapping[str, np.ndarray]) -> np.ndarray:
    ids = np.empty(len(d["event"]), dtype=[("run", "u8"), ("lumi", "u8"), ("event", "u8")])
    ids["run"], ids["lumi"], ids["event"] = d["run"], d["luminosityBlock"], d["event"]
    return ids


def pair_rows(nominal: Mapping[str, np.ndarray], shifted: Mapping[str, np.ndarray]) -> np.ndarray:
    """Row in ``shifted`` of each nominal event's copy (same run, lumi, event), -1 where it was not selected."""
    a, b = _ids(nominal), _ids(shifted)
    order = np.argsort(b, kind="stable")
    pos = np.searchsorted(b[order], a)
    pos_c = np.minimum(pos, max(len(b) - 1, 0))
    found = (len(b) > 0) & (pos < len(b))
    found = found & (b[order][pos_c] == a) if len(b) else np.zeros(len(a), dtype=bool)
    return np.where(found, order[pos_c], -1)


def _variation(d: Mapping[str, np.ndarray], mask: np.ndarray, norm: float, seed: int,
               fractions: Mapping[str, float], what: str = "ingested events") -> Variation:
    x = np.stack([d[f] for f in FEATURE_NAMES], axis=1)[mask].astype(np.float32)
    if not np.isfinite(x).all():
        bad = {f: int((~np.isfinite(d[f][mask])).sum()) for f in FEATURE_NAMES if not np.isfinite(d[f][mask]).all()}
        raise ValueError(f"{what}: non-finite values in features (events: {bad})")
    weights = {syst: (d[up][mask] * d["weight_gen"][mask] * norm, d[down][mask] * d["weight_gen"][mask] * norm)
               for syst, (up, down) in WEIGHT_VARIATIONS.items() if up in d}
    return Variation(
        x=x,
        weight=(d["weight"][mask] * norm).astype(np.float64),
        split=split_labels(d["run"][mask], d["luminosityBlock"][mask], d["event"][mask], seed, fractions),
        weights={f"{k}_{side}": v[i] for k, v in weights.items() for i, side in enumerate(("up", "down"))},
    )


def fit_samples_of(
    name: str,
    arrays: Mapping[str, Mapping[str, np.ndarray]],
    norm: float,
    seed: int,
    fractions: Mapping[str, float],
    split_ttbar: bool = False,
) -> list[FitSample]:
    """The fit samples of one ingested config sample (two for a split ttbar sample)."""
    parts = list(zip(TTBAR_SAMPLES, (True, False))) if split_ttbar else [(name, None)]
    out = []
    for fit_name, flag in parts:
        def mask(d: Mapping[str, np.ndarray]) -> np.ndarray:
            if flag is None:
                return np.ones(len(d["event"]), dtype=bool)
            return d["is_taujets"].astype(bool) == flag

        nom = arrays["nominal"]
        if not mask(nom).any():  # e.g. no ttbar_other event in a split ttbar sample
            n = len(nom["event"])
            which = "no selected event" if flag is None else f"none of its {n} selected events is {fit_name}"
            raise ValueError(f"sample {name!r}: {which}; the templates of {fit_name!r} would be empty")
        sample = FitSample(fit_name, _variation(nom, mask(nom), norm, seed, fractions, f"sample {fit_name!r} nominal"))
        for var, d in arrays.items():
            if var == "nominal":
                continue
            m = mask(d)
            sample.shifted[var] = _variation(d, m, norm, seed, fractions, f"sample {fit_name!r} {var}")
            sub = {k: d[k][m] for k in ID_KEYS}
            sample.pairs[var] = pair_rows({k: nom[k][mask(nom)] for k in ID_KEYS}, sub)
        out.append(sample)
    return out


def _concat_variation(a: Variation, b: Variation) -> Variation:
    return Variation(
        x=np.concatenate([a.x, b.x]),
        weight=np.concatenate([a.weight, b.weight]),
        split=np.concatenate([a.split, b.split]),
        weights={k: np.concatenate([a.weights[k], b.weights[k]]) for k in a.weights if k in b.weights},
    )


def merge_fit_samples(a: FitSample, b: FitSample) -> FitSample:
    """One fit sample made of two (e.g. W+jets and Drell-Yan), pairs re-indexed."""
    merged = FitSample(a.name, _concat_variation(a.nominal, b.nominal))
    for var in a.shifted:
        if var not in b.shifted:
            raise ValueError(f"cannot merge samples into {a.name!r}: only one has variation {var!r}")
        offset = len(a.shifted[var].weight)
        merged.shifted[var] = _concat_variation(a.shifted[var], b.shifted[var])
        pb = b.pairs[var]
        merged.pairs[var] = np.concatenate([a.pairs[var], np.where(pb >= 0, pb + offset, -1)])
    return merged


def check_fit_samples(
    samples: Mapping[str, FitSample],
    sources: Mapping[str, str],
    *,
    min_events: int,
    negative: NegativeWeights = "warn",
) -> None:
    """Every fit sample's weights make a yield, in all and in its templates split, and its features vary.

    ``sources[name]``: the config samples and files of fit sample ``name``, for the messages.
    Per fit sample: the nominal expected-event weights are finite, not all zero and sum to more
    than 0 (negative ones as ``negative`` says, ``cms.negative_weights``), and so do those of the
    templates (test) split; no feature takes one value in all events (checked in fit samples of
    at least ``min_events`` events, ``cms.feature_check_min_events``).  Then no feature takes one
    value over all fit samples together (any size).  Raises :class:`~sysaware.errors.InputError`.
    """
    test = SPLITS.index("test")
    for name, s in samples.items():
        what = f"fit sample {name!r} ({sources.get(name, 'no source recorded')})"
        check_weights(s.nominal.weight, what, column="the expected-event weight (weight x xsec x lumi / sum_weights)",
                      negative=negative, policy_key="cms.negative_weights")
        check_weights(s.nominal.weight[s.nominal.split == test], f"{what}, templates (test) split of cms.split",
                      column="the expected-event weight", negative="allow")
        check_features(dict(zip(FEATURE_NAMES, s.nominal.x.T)), what, min_events=min_events)
    if samples:
        x = np.concatenate([s.nominal.x for s in samples.values()])
        check_features(dict(zip(FEATURE_NAMES, x.T)), f"all fit samples together ({', '.join(samples)})")


def observed_features(arrays: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
    """Feature matrix of a data sample (nominal only)."""
    d = arrays["nominal"]
    return np.stack([d[f] for f in FEATURE_NAMES], axis=1).astype(np.float32)


def split_summary(samples: Mapping[str, FitSample]) -> dict[str, Any]:
    """Expected events and event counts per fit sample and split (for the logs and the info JSON)."""
    return {
        name: {split: {"events": int((s.nominal.split == k).sum()), "expected": s.split_weight(k)}
               for k, split in enumerate(SPLITS)}
        for name, s in samples.items()
    }
