"""Checks of event weights and network inputs that both analyses run before anything is trained.

Both the HiggsML preparation (:func:`sysaware.higgsml.dataset.prepare`) and the CMS ingestion
and sample loading (:mod:`sysaware.cms.pipeline`) call these, each with its own description of
the culprit (file, column, sample, files), so that the messages name it:

* :func:`check_weights`: the weights of one sample (or of one split of it) can make a yield:
  every weight finite, not all zero, a total above 0; negative weights stop the run
  (``negative="error"``), are logged as a WARNING naming the count and values
  (``negative="warn"``, e.g. NLO generator weights), or are left to the total check
  (``negative="allow"``).
* :func:`check_features`: no network input is useless in a sample: *undefined* (NaN) in every
  event, or taking one single value in every event where it is defined.  Undefined entries
  of a subset of the events (jet features of 0-jet events) are fine.  A sample with fewer
  than ``min_events`` events is not checked (a feature may well be constant over a handful of
  events); the callers also check all samples together, where any constant feature is a bug.

This module imports nothing of the package but :mod:`sysaware.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)

NegativeWeights = Literal["error", "warn", "allow"]
"""What :func:`check_weights` does with negative weights (the total must be > 0 in every case)."""
NEGATIVE_WEIGHT_POLICIES: tuple[str, ...] = ("error", "warn", "allow")


def _first(mask: np.ndarray, values: np.ndarray, rows: np.ndarray | None, row_name: str) -> str:
    i = int(np.flatnonzero(mask)[0])
    where = i if rows is None else rows[i]
    return f"first at {row_name} {where}: {values[i]:g}"


def check_weights(
    weights: np.ndarray,
    what: str,
    *,
    column: str = "weight",
    rows: np.ndarray | None = None,
    row_name: str = "row",
    negative: NegativeWeights = "error",
    policy_key: str | None = None,
    hint: str = "",
    error: type[Exception] = InputError,
) -> float:
    """The total of ``weights`` (one sample's), after checking that they can make a yield.

    Raises ``error`` (an :class:`~sysaware.errors.InputError` by default) whose message starts
    with ``what`` (the sample and its file(s)) and names ``column`` when the sample has no
    events, a weight is NaN or inf, a weight is negative (``negative="error"``), every weight is
    0, or the total is not above 0.  ``rows`` numbers the events in the message (default their
    position), ``row_name`` says what the numbers are ("data row", "event").  With
    ``negative="warn"`` negative weights are logged as a WARNING (count, first value, their sum
    and the total; ``policy_key`` is the config key that chose it); ``hint`` ends the negative-
    weight error.
    """
    if negative not in NEGATIVE_WEIGHT_POLICIES:
        raise ValueError(f"negative {negative!r} not in {list(NEGATIVE_WEIGHT_POLICIES)}")
    w = np.asarray(weights, dtype=np.float64)
    n = int(w.shape[0])
    if n == 0:
        raise error(f"{what}: no events, so no yield")
    bad = ~np.isfinite(w)
    if bad.any():
        raise error(f"{what}: {column} has {int(bad.sum())} non-finite value(s) among its {n} events "
                    f"({_first(bad, w, rows, row_name)})")
    neg = w < 0
    total = float(w.sum())
    if neg.any() and negative != "allow":
        note = (f"{column} has {int(neg.sum())} negative value(s) among its {n} events "
                f"({_first(neg, w, rows, row_name)}; they sum to {float(w[neg].sum()):g}, all {n} to {total:g})")
        if negative == "error":
            raise error(f"{what}: {note}{hint}")
        log.warning("%s: %s; kept (%s 'warn')", what, note, policy_key or "negative weights")
    if not (w != 0).any():
        raise error(f"{what}: {column} is 0 in all {n} events, so its yield would be 0")
    if not total > 0:
        raise error(f"{what}: {column} sums to {total:g} over its {n} events ({int(neg.sum())} negative, "
                    f"summing to {float(w[neg].sum()):g}); a yield must be above 0")
    return total


def unusable_features(columns: Mapping[str, np.ndarray], min_events: int = 2,
                      undefined: str = "undefined") -> dict[str, str]:
    """Feature -> why it cannot inform a network, for the columns (one sample's events, NaN = undefined)
    that are undefined in every event or take one value in every event where they are defined.

    Empty when the columns hold fewer than ``min_events`` events (too few to tell).
    ``undefined`` is how the reason calls an undefined entry (e.g. "undefined (-999)").
    """
    out: dict[str, str] = {}
    for name, values in columns.items():
        v = np.asarray(values, dtype=np.float64)
        n = int(v.shape[0])
        if n < max(int(min_events), 2):
            continue
        defined = v[~np.isnan(v)]
        if defined.size == 0:
            out[name] = f"{undefined} in all {n} events"
        elif defined.size >= 2 and defined.min() == defined.max():
            where = f"all {n} events" if defined.size == n else f"all {defined.size} events where it is defined (of {n})"
            out[name] = f"takes the single value {defined[0]:g} in {where}"
    return out


def check_features(columns: Mapping[str, np.ndarray], what: str, *, min_events: int = 2,
                   undefined: str = "undefined", error: type[Exception] = InputError) -> None:
    """Raise ``error`` naming ``what`` and every feature of :func:`unusable_features` (if any)."""
    bad = unusable_features(columns, min_events, undefined)
    if bad:
        detail = "; ".join(f"{name} {why}" for name, why in bad.items())
        raise error(f"{what}: feature(s) that cannot inform the network (undefined or constant): {detail}")
