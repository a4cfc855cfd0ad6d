"""HiggsML events prepared for the tau-energy-scale study: samples, splits, features at any TES.

:func:`prepare` reads the configured file (ATLAS CSV or FAIR-Universe parquet), assigns every
event to a fit sample (by label or by detailed label), draws a seeded train / valid / templates
split and scales the weights so that *each split* stands for the whole expected yield (times
``luminosity_scale``).  :class:`TESData` then gives the network inputs of any rows at any TES
shift z (one z, or one per event): the features always go through
:func:`~sysaware.higgsml.systematics.tau_energy_scale`, also at z = 0, so the nominal is the
z -> 0 limit of the shifted samples (the file's own DER_* values are rounded and, for a few,
computed differently).  The recipe's tau pT cut is applied after the shift: an event whose
shifted tau pT falls below the threshold is not ``kept`` at that z.

A NaN or infinite feature value in the file (not the undefined sentinel) is an error naming the
file, column and count, unless ``higgsml.nan_policy`` is ``drop``: the rows are then removed
(:func:`drop_nonfinite`), logged and counted in the facts (``prepared/summary.json``).

Before anything is split or saved, :func:`check_samples` checks every sample's weights (finite,
not negative: the HiggsML weights are positive, not all zero) and network inputs
(``higgsml.features``: none undefined in every event or constant, see
:mod:`sysaware.input_checks`); :func:`prepare` then checks that every sample's templates split
has a yield.  Each failure is a :class:`HiggsMLInputError` naming the file, the column or
feature and the sample.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..input_checks import check_features, check_weights
from ..seeding import rng_for
from .io import HiggsMLEvents, HiggsMLInputError, NonFinite, read_fair_universe_parquet, read_higgsml_csv
from .systematics import tau_energy_scale

log = logging.getLogger(__name__)
TRAIN, VALID, TEMPLATES = 0, 1, 2
SPLIT_NAMES = ("train", "valid", "templates")
#: ``higgsml.nan_policy``: what :func:`prepare` does with rows holding a NaN/inf feature value.
NAN_POLICIES = ("error", "drop")
#: default of ``higgsml.feature_check_min_events``: smaller samples are not checked for constant features
FEATURE_CHECK_MIN_EVENTS = 50
_NEGATIVE_HINT = ("; the HiggsML weights (ATLAS 2014, FAIR-Universe) are positive: is this a HiggsML file, "
                  "and is the column intact?")


def read_events(path: str, fmt: str = "auto", nonfinite_features: NonFinite = "error") -> HiggsMLEvents:
    """Read a HiggsML file: ``csv`` (ATLAS 2014), ``parquet`` (FAIR-Universe), or ``auto`` by suffix.

    ``nonfinite_features``: ``"error"`` raises on a NaN/inf feature value, ``"keep"`` leaves it
    (see :func:`drop_nonfinite`).
    """
    if fmt == "auto":
        fmt = "parquet" if str(path).endswith(".parquet") else "csv"
    if fmt == "csv":
        return read_higgsml_csv(path, nonfinite_features=nonfinite_features)
    if fmt == "parquet":
        return read_fair_universe_parquet(path, nonfinite_features=nonfinite_features)
    raise ValueError(f"higgsml.format {fmt!r} not in ['auto', 'csv', 'parquet']")


def feature_names(h: Mapping[str, Any], available: Sequence[str]) -> list[str]:
    """``higgsml.features``, each of which must be among ``available`` (the file's feature columns)."""
    missing = [f for f in h["features"] if f not in available]
    if missing:
        raise HiggsMLInputError(f"higgsml.features {missing} are not columns of {h['input']}")
    return list(h["features"])


def check_samples(events: HiggsMLEvents, index: np.ndarray, h: Mapping[str, Any]) -> None:
    """Every sample's weights can make a yield and its network inputs can inform the network.

    ``index``: the sample of every event (:func:`sample_index`, no -1).  Per sample (in
    ``higgsml.samples`` order): the weight column has no NaN/inf, no negative value, not only
    zeros; every feature of ``higgsml.features`` is neither undefined in every event nor
    constant (checked in samples of at least ``higgsml.feature_check_min_events`` events); then
    the same features over all the samples' events together (any size).  Raises
    :class:`HiggsMLInputError` naming the file, the column or feature(s) and the sample.
    """
    names = feature_names(h, list(events.features))
    undefined = f"undefined ({events.undefined_value:g} in the file)"
    min_events = int(h.get("feature_check_min_events", FEATURE_CHECK_MIN_EVENTS))
    for k, s in enumerate(h["samples"]):
        rows = index == k
        what = f"{events.source}: sample {s['name']!r}"
        check_weights(events.weight[rows], what, column=f"column {events.weight_column}", rows=events.rows[rows],
                      row_name="data row", negative="error", hint=_NEGATIVE_HINT, error=HiggsMLInputError)
        check_features({f: events.features[f][rows] for f in names}, what, min_events=min_events,
                       undefined=undefined, error=HiggsMLInputError)
    check_features({f: events.features[f] for f in names}, f"{events.source}: all samples together",
                   undefined=undefined, error=HiggsMLInputError)


def sample_index(events: HiggsMLEvents, samples: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Index into ``samples`` of every event (-1: in no sample).

    A sample selects events by ``label`` (0/1) or by ``detailed_label`` (list of process names,
    FAIR-Universe files only).  An event in two samples, or a sample without events, is an error.
    """
    index = np.full(events.n_events, -1, dtype=np.int64)
    for k, s in enumerate(samples):
        if "detailed_label" in s:
            if events.detailed_label is None:
                raise HiggsMLInputError(
                    f"{events.source}: sample {s['name']!r} selects by detailed_label, which this file lacks"
                )
            mask = np.isin(events.detailed_label, list(s["detailed_label"]))
            how = f"detailed_label in {list(s['detailed_label'])}"
        elif "label" in s:
            mask = events.label == int(s["label"])
            how = f"label == {int(s['label'])}"
        else:
            raise ValueError(f"higgsml.samples entry {s['name']!r} needs 'label' or 'detailed_label'")
        if not mask.any():
            raise HiggsMLInputError(
                f"{events.source}: sample {s['name']!r} has no events ({how} selects none of the "
                f"{events.n_events} rows)"
            )
        twice = mask & (index >= 0)
        if twice.any():
            raise ValueError(f"higgsml.samples: {int(twice.sum())} events are in {s['name']!r} and another sample")
        index[mask] = k
    return index


def assign_splits(n: int, fractions: Mapping[str, float], seed: int) -> np.ndarray:
    """Seeded split of ``n`` rows into train / valid / templates (the rest) by the given fractions."""
    f_train, f_valid = float(fractions["train"]), float(fractions["valid"])
    if f_train <= 0 or f_valid <= 0 or f_train + f_valid >= 1:
        raise ValueError(f"higgsml.split: train {f_train} and valid {f_valid} must be > 0 and sum below 1")
    u = rng_for(seed, "higgsml_split").random(n)
    return np.where(u < f_train, TRAIN, np.where(u < f_train + f_valid, VALID, TEMPLATES)).astype(np.int8)


def split_weights(weight: np.ndarray, sample: np.ndarray, split: np.ndarray, scale: float) -> np.ndarray:
    """Weights scaled so that every split of every sample sums to the sample's whole yield x ``scale``."""
    out = np.array(weight, dtype=np.float64)
    for s in np.unique(sample):
        for k in range(len(SPLIT_NAMES)):
            rows = (sample == s) & (split == k)
            part = out[rows].sum()
            if rows.any() and part > 0:
                out[rows] *= weight[sample == s].sum() / part
    return out * float(scale)


def drop_repeated_ids(events: HiggsMLEvents) -> tuple[HiggsMLEvents, int]:
    """The events with the first row of every EventId only, and how many rows were dropped.

    The ATLAS file's EventIds are unique; a repeated id is a copied row (the 44,941-row head in
    ../shared/data holds 22,889 distinct events, 17 of them copied some 1,300 times each), and a
    copied event would sit in the training and the template splits at once.
    """
    _, first = np.unique(events.event_id, return_index=True)
    first = np.sort(first)
    n_dropped = events.n_events - len(first)
    if n_dropped:
        log.warning("%s: %d rows repeat an EventId already read; they are dropped (%d events left)",
                    events.source, n_dropped, len(first))
        events = events.select(first)
    return events, n_dropped


def drop_nonfinite(events: HiggsMLEvents) -> tuple[HiggsMLEvents, int, dict[str, int]]:
    """The events without a NaN/inf feature value (undefined entries do not count), the rows dropped,
    and per column the rows with a non-finite value there (a row may count in several columns).

    For events read with ``nonfinite_features="keep"``; the drop is logged as a warning.
    """
    bad = {name: ~np.isfinite(v) & ~events.undefined_mask(name) for name, v in events.features.items()}
    per_column = {name: int(m.sum()) for name, m in bad.items() if m.any()}
    rows = np.logical_or.reduce(list(bad.values())) if bad else np.zeros(events.n_events, dtype=bool)
    n_rows = int(rows.sum())
    if n_rows:
        log.warning("%s: %d of %d rows have NaN or inf feature values and are dropped (nan_policy 'drop'): %s",
                    events.source, n_rows, events.n_events, ", ".join(f"{k} {v}" for k, v in per_column.items()))
        events = events.select(~rows)
    return events, n_rows, per_column


def prepare(cfg: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays of the prepared events (``f_<feature>``, ``weight``, ``sample``, ``split``, ``event_id``) and facts about them.

    Facts: ``rows_read``, ``repeated_id_rows_dropped`` and, when ``higgsml.nan_policy`` is
    ``drop``, ``nonfinite_rows_dropped`` and ``nonfinite_by_column`` (see :func:`drop_nonfinite`).
    """
    h = cfg["higgsml"]
    policy = h.get("nan_policy", "error")
    if policy not in NAN_POLICIES:
        raise ValueError(f"higgsml.nan_policy {policy!r} not in {list(NAN_POLICIES)}")
    events = read_events(h["input"], h.get("format", "auto"), "keep" if policy == "drop" else "error")
    n_read, n_dropped = events.n_events, 0
    facts: dict[str, Any] = {"rows_read": n_read}
    if policy == "drop":
        events, n_bad, by_column = drop_nonfinite(events)
        facts.update(nonfinite_rows_dropped=n_bad, nonfinite_by_column=by_column)
    if h["drop_repeated_ids"]:
        events, n_dropped = drop_repeated_ids(events)
    index = sample_index(events, h["samples"])
    events = events.select(index >= 0)
    index = index[index >= 0]
    check_samples(events, index, h)
    split = assign_splits(events.n_events, h["split"], int(cfg["seed"]))
    weight = split_weights(events.weight, index, split, float(h["luminosity_scale"]))
    for k, s in enumerate(h["samples"]):  # the templates (and pseudo-data) of every sample need a yield
        rows = (index == k) & (split == TEMPLATES)
        check_weights(weight[rows], f"{events.source}: sample {s['name']!r}, templates split (higgsml.split)",
                      column=f"column {events.weight_column}", rows=events.rows[rows], row_name="data row",
                      negative="allow", error=HiggsMLInputError)
    out = {f"f_{k}": v for k, v in events.features.items()}
    out.update(weight=weight, sample=index, split=split, event_id=events.event_id)
    return out, {**facts, "repeated_id_rows_dropped": n_dropped}


@dataclass
class TESData:
    """Prepared events and the recipe settings: network inputs at any tau energy scale."""

    raw: dict[str, np.ndarray]
    weight: np.ndarray
    sample: np.ndarray
    split: np.ndarray
    sample_names: list[str]
    signal: np.ndarray  # bool per sample: scaled by mu
    features: list[str]
    undefined_fill: float
    tau_pt_cut: float
    mass_mmc: str

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], cfg: Mapping[str, Any]) -> TESData:
        """From :func:`prepare`'s arrays (or the .npz it was saved to) and the run config."""
        h = cfg["higgsml"]
        raw = {k[2:]: np.asarray(v) for k, v in arrays.items() if k.startswith("f_")}
        features = feature_names(h, list(raw))
        return cls(
            raw=raw, weight=np.asarray(arrays["weight"]), sample=np.asarray(arrays["sample"]),
            split=np.asarray(arrays["split"]), sample_names=[s["name"] for s in h["samples"]],
            signal=np.array([s["role"] == "signal" for s in h["samples"]]), features=features,
            undefined_fill=float(h["undefined_fill"]), tau_pt_cut=float(h["tes"]["tau_pt_cut"]),
            mass_mmc=h["mass_mmc"],
        )

    def rows(self, split: int) -> np.ndarray:
        """Row indices of one split."""
        return np.flatnonzero(self.split == split)

    def is_signal(self, rows: np.ndarray) -> np.ndarray:
        """True for the rows whose sample is a signal sample."""
        return self.signal[self.sample[rows]]

    def inputs_at(self, rows: np.ndarray, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 inputs of ``rows`` at TES shift ``z``, kept mask: shifted tau pT above the cut).

        ``z`` is one relative shift or one per row.  Undefined entries (NaN) of the chosen
        features become ``undefined_fill``; any other non-finite value is an error naming the feature.
        """
        sub = {k: v[rows] for k, v in self.raw.items()}
        shifted, _ = tau_energy_scale(sub, np.asarray(z, dtype=np.float64), tau_pt_cut=None, mass_mmc=self.mass_mmc)
        tau_pt = shifted["PRI_tau_pt"] if "PRI_tau_pt" in shifted else shifted["PRI_had_pt"]
        kept = tau_pt > self.tau_pt_cut
        cols = []
        for name in self.features:
            col = np.where(np.isnan(shifted[name]), self.undefined_fill, shifted[name])
            if not np.isfinite(col).all():
                raise HiggsMLInputError(f"feature {name} is not finite after the TES shift")
            cols.append(col)
        return np.stack(cols, axis=1).astype(np.float32), kept


def load(path: str | Path, cfg: Mapping[str, Any]) -> TESData:
    """:class:`TESData` of a prepared .npz."""
    with np.load(path) as f:
        return TESData.from_arrays({k: f[k] for k in f.files}, cfg)
