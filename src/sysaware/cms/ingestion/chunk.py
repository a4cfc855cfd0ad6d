"""The ingestion of one chunk of NanoEvents: what every executor runs on every chunk.

:class:`ChunkTask` holds what the processing of every chunk of one sample needs (it is
picklable, so it travels to Dask workers); :func:`process_chunk` selects every variation of one
chunk, computes its features and weights and returns a :class:`ChunkOutput`.  The iterative
executor (:func:`~sysaware.cms.ingestion.ingest.ingest_sample`) and the Dask executor
(:mod:`.distributed`) both run it; :func:`~sysaware.cms.ingestion.ingest.ingest_sample` combines
the outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from ..objects.features import selected_event_features
from ..objects.selection import CutFlow, SelectionConfig, object_independent_cuts, select_events
from ..objects.variations import (
    SystematicsConfig,
    btag_counts,
    generator_weights,
    nominal_objects,
    varied_objects,
    with_objects,
)
from .nanoevents import nonfinite_events

__all__ = ["ChunkOutput", "ChunkTask", "process_chunk"]


@dataclass(frozen=True)
class ChunkTask:
    """What the processing of every chunk of one sample needs (picklable: it travels to Dask workers)."""

    selection: SelectionConfig
    systematics: SystematicsConfig
    is_mc: bool
    variations: tuple[str, ...]
    optional_present: tuple[str, ...]
    checked: tuple[str, ...]  # branches whose NaN/inf are counted (what selection, features, weights read)
    nan_policy: str = "error"
    event_labels: Callable[[Any], dict[str, np.ndarray]] | None = None

    @property
    def measure(self) -> bool:
        """Whether the b-tag efficiencies are measured on the nominal selection."""
        return self.is_mc and self.systematics.btag.measure_efficiencies


@dataclass
class ChunkOutput:
    """Result of one chunk (entry range ``entry_start...`` of ``path``).

    ``bad``: branch -> events with NaN/inf, ``n_bad`` events with any; ``parts`` is ``None`` when
    the chunk was only counted (NaN/inf under ``nan_policy="error"``, or no event left after
    dropping them), else per variation the selected events' arrays (``_flavour``/``_btag`` kept
    jagged for the b-tag weights, computed once the efficiencies are known).
    """

    path: str
    entry_start: int
    n_read: int
    bad: dict[str, int] = field(default_factory=dict)
    n_bad: int = 0
    sum_gen: float = 0.0
    flows: dict[str, CutFlow] = field(default_factory=dict)
    tag_counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] | None = None


def process_chunk(task: ChunkTask, events: Any, path: str, entry_start: int, count_only: bool = False) -> ChunkOutput:
    """Selection of every variation, features and weights of one chunk of NanoEvents.

    A function of the chunk's events only: what depends on more than one chunk (the b-tag
    efficiencies, the weights that use them, the sums) is finished by
    :func:`~sysaware.cms.ingestion.ingest.ingest_sample`.
    """
    out = ChunkOutput(path=path, entry_start=int(entry_start), n_read=len(events))
    bad = nonfinite_events(events, task.checked)
    if bad:
        any_bad = np.logical_or.reduce(list(bad.values()))
        out.bad = {b: int(m.sum()) for b, m in bad.items()}
        out.n_bad = int(any_bad.sum())
        if task.nan_policy == "drop":
            events = events[~any_bad]
    if count_only or (bad and task.nan_policy == "error") or len(events) == 0:
        return out  # failing (only the counts are wanted) or nothing left
    if task.is_mc:
        gen = generator_weights(events, task.systematics.weights, available=task.optional_present)
    else:
        gen = {"gen": np.ones(len(events))}
    out.sum_gen = float(gen["gen"].sum())
    nominal = nominal_objects(events, task.systematics, task.is_mc)
    labels = task.event_labels(events) if task.event_labels is not None else {}
    fixed = object_independent_cuts(events, task.selection)  # the same for every variation
    out.parts = {}
    tag_counts = {k: [0, 0] for k in (5, 4, 0)}
    for var in task.variations:
        objs = varied_objects(events, var, task.systematics, task.is_mc, nominal=nominal)
        sel = select_events(with_objects(events, objs), task.selection, gen["gen"], fixed_cuts=fixed)
        out.flows[var] = sel.cutflow
        m = sel.mask
        if task.measure and var == "nominal":
            for k, (t, a) in btag_counts(sel.jets[sel.masks["met"]], task.selection.btag_wp).items():
                tag_counts[k][0] += t
                tag_counts[k][1] += a
        jets = sel.jets[m]
        part: dict[str, Any] = selected_event_features(events, sel, objs.met_pt, objs.met_phi)
        part["n_jets"] = ak.to_numpy(ak.num(jets, axis=1)).astype(np.int32)
        part["n_btag"] = ak.to_numpy(ak.sum(jets.btagCSVV2 > task.selection.btag_wp, axis=1)).astype(np.int32)
        part.update({f"weight_{k}": v[m] for k, v in gen.items()})
        part.update({k: np.asarray(v)[m] for k, v in labels.items()})
        if task.is_mc:  # kept (selected events only) for the b-tag weights once efficiencies are known;
            # plain arrays, without the NanoEvents behaviours (they hold lambdas, which do not pickle)
            part["_flavour"] = ak.Array(ak.to_packed(jets.hadronFlavour, highlevel=False))
            part["_btag"] = ak.Array(ak.to_packed(jets.btagCSVV2, highlevel=False))
        out.parts[var] = part
    out.tag_counts = {k: (int(t), int(a)) for k, (t, a) in tag_counts.items()}
    return out
