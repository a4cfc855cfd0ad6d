"""Ingest one sample: chunked NanoEvents, nominal + shape variations with full reselection.

:func:`ingest_sample` returns, per variation, a dict of numpy arrays with the 8 features
(:data:`~sysaware.cms.features.FEATURE_NAMES`), the event ids (``run``, ``luminosityBlock``,
``event``), ``n_jets``, ``n_btag`` and the weights:

* ``weight_gen`` (``genWeight``; 1 for data), ``weight_btag`` and ``weight_btag_bc_up/down``,
  ``weight_btag_light_up/down`` (fixed-WP ``P(data)/P(MC)``; 1 for data),
* ``weight_scale_up/down``, ``weight_pdf_up/down`` (ratios to nominal) when the file has
  ``LHEScaleWeight``/``LHEPdfWeight``,
* ``weight = weight_gen * weight_btag`` (nominal event weight, before luminosity/cross-section
  normalisation, which needs :attr:`SampleIngestion.sum_gen_weight` over *all* events read,
  less any dropped for NaN/inf),

plus a cut flow per variation.  Every variation is selected from scratch on its own shifted
objects, so a variation's event set differs from the nominal one; the event ids pair them.

NaN or infinite values in the floating-point branches read (kinematics, b-tag discriminants,
isolation, weights) would otherwise pass or fail cuts silently; ``nan_policy`` decides:
``"error"`` (default) raises :class:`IngestionError` naming the sample, file, branches and event
counts; ``"drop"`` removes the affected events before the selection, logs the counts and keeps
them in :attr:`SampleIngestion.nonfinite_dropped`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from .features import selected_event_features
from .nanoevents import (
    DEFAULT_STEP_SIZE,
    BareReadStats,
    IngestionError,
    bare_read,
    iterate_events,
    nonfinite_events,
    scan_files,
)
from .selection import CUT_NAMES, CutFlow, SelectionConfig, object_independent_cuts, select_events
from .variations import (
    MC_BRANCHES,
    OPTIONAL_WEIGHT_BRANCHES,
    SHAPE_VARIATIONS,
    SystematicsConfig,
    btag_counts,
    btag_event_weights,
    generator_weights,
    nominal_objects,
    varied_objects,
    with_objects,
)

__all__ = [
    "NAN_POLICIES",
    "IngestionError",
    "SampleIngestion",
    "bare_read_sample",
    "ingest_sample",
    "required_branches",
]

log = logging.getLogger(__name__)

#: What the ingestion does with events holding NaN/inf in a branch it reads.
NAN_POLICIES: tuple[str, ...] = ("error", "drop")


def required_branches(selection: SelectionConfig, is_mc: bool = True) -> tuple[str, ...]:
    """Branches every input file must have (event ids are added by the reader)."""
    extra = MC_BRANCHES if is_mc else ()
    return tuple(dict.fromkeys([*selection.required_branches(), *extra]))


@dataclass
class SampleIngestion:
    """Per-variation arrays and cut flows of one sample.

    ``nonfinite_dropped``: events removed for NaN/inf values (``nan_policy="drop"``): the total,
    per branch and per file; the cut flows start after that removal, ``n_events_read`` before it.
    """

    sample: str
    files: tuple[str, ...]
    is_mc: bool
    arrays: dict[str, dict[str, np.ndarray]]
    cutflows: dict[str, dict[str, dict[str, float]]]
    n_events_read: int
    sum_gen_weight: float
    btag_efficiencies: dict[int, float]
    seconds: float
    branches: tuple[str, ...] = field(default=())
    nonfinite_dropped: dict[str, Any] = field(default_factory=lambda: {"events": 0, "branches": {}, "files": {}})

    @property
    def variations(self) -> tuple[str, ...]:
        """Variation names, nominal first."""
        return tuple(self.arrays)

    def n_selected(self, variation: str = "nominal") -> int:
        """Selected events of a variation."""
        return int(self.arrays[variation]["event"].shape[0])


def _nonfinite_detail(files: dict[str, int], branches: dict[str, dict[str, int]]) -> str:
    """Every file, branch and count of events with non-finite values, on one line."""
    return "; ".join(
        f"{n} event(s) of {path} ({', '.join(f'{b}: {k}' for b, k in branches[path].items())})"
        for path, n in files.items()
    )


def _concat(parts: list[dict[str, Any]], key: str) -> Any:
    vals = [p[key] for p in parts]
    if isinstance(vals[0], np.ndarray):
        return np.concatenate(vals)
    return ak.concatenate(vals, axis=0)


def ingest_sample(
    sample: str,
    files: Iterable[str | Path],
    *,
    selection: SelectionConfig | None = None,
    systematics: SystematicsConfig | None = None,
    is_mc: bool = True,
    variations: Sequence[str] | None = None,
    step_size: int = DEFAULT_STEP_SIZE,
    event_labels: Callable[[Any], dict[str, np.ndarray]] | None = None,
    label_branches: Sequence[str] = (),
    nan_policy: str = "error",
) -> SampleIngestion:
    """Select, vary and featurise one sample's files, chunk by chunk.

    ``variations`` defaults to all of :data:`~sysaware.cms.variations.SHAPE_VARIATIONS` on MC
    and ``("nominal",)`` on data; nominal is always run (first).  ``event_labels(events)``
    (reading ``label_branches`` too) gives per-event arrays, e.g. the generator-level decay
    class, stored for the selected events of every variation.  Raises
    :class:`~sysaware.cms.nanoevents.IngestionError` for unreadable inputs (naming the file and
    branch), for NaN/inf in a branch read unless ``nan_policy="drop"`` (naming the file, branch
    and event count; see the module doc) and when no event passes the nominal selection (naming
    the sample and giving its cut flow).
    """
    t0 = time.perf_counter()
    selection = selection or SelectionConfig()
    systematics = systematics or SystematicsConfig()
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy {nan_policy!r} not in {list(NAN_POLICIES)}")
    if selection.n_taus < 1:
        raise ValueError("the features need a tau: SelectionConfig.n_taus must be >= 1")
    files = tuple(str(f) for f in files)
    if not files:
        raise IngestionError(f"sample {sample!r}: no input files")
    if variations is None:
        variations = SHAPE_VARIATIONS if is_mc else ("nominal",)
    unknown = [v for v in variations if v not in SHAPE_VARIATIONS]
    if unknown:
        raise ValueError(f"unknown variation(s) {unknown}; known: {SHAPE_VARIATIONS}")
    if not is_mc and any(v != "nominal" for v in variations):
        raise ValueError(f"sample {sample!r} is data: only the nominal variation applies")
    variations = tuple(dict.fromkeys(["nominal", *variations]))

    branches = tuple(dict.fromkeys([*required_branches(selection, is_mc), *label_branches]))
    optional = OPTIONAL_WEIGHT_BRANCHES if is_mc else ()
    scan = scan_files(files, branches, optional)
    measure = is_mc and systematics.btag.measure_efficiencies
    checked = (*required_branches(selection, is_mc), *scan.optional_present)  # what selection, features, weights read
    bad_files: dict[str, int] = {}  # file -> events with a non-finite value
    bad_branches: dict[str, dict[str, int]] = {}  # file -> branch -> events

    parts: dict[str, list[dict[str, Any]]] = {v: [] for v in variations}
    flows: dict[str, CutFlow] = {v: CutFlow() for v in variations}
    tag_counts = {k: [0, 0] for k in (5, 4, 0)}
    n_read = 0
    sum_gen = 0.0
    for chunk, events in iterate_events(files, branches, step_size, optional=optional, scan=scan):
        n_read += len(events)
        bad = nonfinite_events(events, checked)
        if bad:
            any_bad = np.logical_or.reduce(list(bad.values()))
            bad_files[chunk.path] = bad_files.get(chunk.path, 0) + int(any_bad.sum())
            per_branch = bad_branches.setdefault(chunk.path, {})
            for b, m in bad.items():
                per_branch[b] = per_branch.get(b, 0) + int(m.sum())
            if nan_policy == "drop":
                events = events[~any_bad]
        if (bad_files and nan_policy == "error") or len(events) == 0:
            continue  # failing: only the counts of the remaining chunks are wanted
        if is_mc:
            gen = generator_weights(events, systematics.weights, available=scan.optional_present)
        else:
            gen = {"gen": np.ones(len(events))}
        sum_gen += float(gen["gen"].sum())
        nominal = nominal_objects(events, systematics, is_mc)
        labels = event_labels(events) if event_labels is not None else {}
        fixed = object_independent_cuts(events, selection)  # the same for every variation
        for var in variations:
            objs = varied_objects(events, var, systematics, is_mc, nominal=nominal)
            sel = select_events(with_objects(events, objs), selection, gen["gen"], fixed_cuts=fixed)
            flows[var].add(sel.cutflow)
            m = sel.mask
            if measure and var == "nominal":
                for k, (t, a) in btag_counts(sel.jets[sel.masks["met"]], selection.btag_wp).items():
                    tag_counts[k][0] += t
                    tag_counts[k][1] += a
            jets = sel.jets[m]
            part: dict[str, Any] = selected_event_features(events, sel, objs.met_pt, objs.met_phi)
            part["n_jets"] = ak.to_numpy(ak.num(jets, axis=1)).astype(np.int32)
            part["n_btag"] = ak.to_numpy(ak.sum(jets.btagCSVV2 > selection.btag_wp, axis=1)).astype(np.int32)
            part.update({f"weight_{k}": v[m] for k, v in gen.items()})
            part.update({k: np.asarray(v)[m] for k, v in labels.items()})
            if is_mc:  # kept (selected events only) for the b-tag weights once efficiencies are known
                part["_flavour"] = ak.to_packed(jets.hadronFlavour)
                part["_btag"] = ak.to_packed(jets.btagCSVV2)
            parts[var].append(part)

    order = {b: i for i, b in enumerate(checked)}  # branches in reading order, whichever chunk found them
    bad_branches = {f: dict(sorted(per.items(), key=lambda kv: order[kv[0]])) for f, per in bad_branches.items()}
    if bad_files and nan_policy == "error":
        raise IngestionError(
            f"sample {sample!r}: NaN or inf in {_nonfinite_detail(bad_files, bad_branches)}; "
            "nan_policy 'drop' (config cms.nan_policy) removes such events, counted and logged"
        )
    dropped: dict[str, Any] = {"events": sum(bad_files.values()), "branches": {}, "files": dict(bad_files)}
    for per_branch in bad_branches.values():
        for b, k in per_branch.items():
            dropped["branches"][b] = dropped["branches"].get(b, 0) + k
    if bad_files:
        log.warning("sample %r: NaN or inf in %s: %d of %d events read dropped (nan_policy 'drop')",
                    sample, _nonfinite_detail(bad_files, bad_branches), dropped["events"], n_read)

    if flows["nominal"].events.get(CUT_NAMES[-1], 0) == 0:
        flow = ", ".join(f"{k}={v}" for k, v in flows["nominal"].events.items()) or "empty"
        gone = f", {dropped['events']} of them dropped for NaN/inf" if dropped["events"] else ""
        raise IngestionError(
            f"sample {sample!r}: no event passes the nominal selection "
            f"({n_read} events read from {len(files)} file(s): {', '.join(files)}{gone}; cut flow: {flow})"
        )

    efficiencies = dict(systematics.btag.efficiencies)
    if measure:
        for k, (t, a) in tag_counts.items():
            if a > 0:
                efficiencies[k] = t / a

    arrays: dict[str, dict[str, np.ndarray]] = {}
    for var in variations:
        keys = list(parts[var][0])
        out = {k: _concat(parts[var], k) for k in keys}
        if is_mc:
            bw = btag_event_weights(out.pop("_flavour"), out.pop("_btag"), selection.btag_wp, systematics.btag, efficiencies)
            out.update({f"weight_{k}": v for k, v in bw.items()})
        else:
            out["weight_btag"] = np.ones_like(out["weight_gen"])
        out["weight"] = out["weight_gen"] * out["weight_btag"]
        arrays[var] = out

    return SampleIngestion(
        sample=sample,
        files=files,
        is_mc=is_mc,
        arrays=arrays,
        cutflows={v: flows[v].as_dict() for v in variations},
        n_events_read=n_read,
        sum_gen_weight=sum_gen,
        btag_efficiencies=efficiencies,
        seconds=time.perf_counter() - t0,
        branches=(*branches, *scan.optional_present),
        nonfinite_dropped=dropped,
    )


def bare_read_sample(
    files: Iterable[str | Path],
    *,
    selection: SelectionConfig | None = None,
    is_mc: bool = True,
    step_size: int = DEFAULT_STEP_SIZE,
) -> BareReadStats:
    """Read the branches :func:`ingest_sample` reads with plain ``uproot.iterate``, no processing."""
    selection = selection or SelectionConfig()
    files = [str(f) for f in files]
    branches = list(required_branches(selection, is_mc))
    scan = scan_files(files, branches, OPTIONAL_WEIGHT_BRANCHES if is_mc else ())
    return bare_read(files, [*branches, *scan.optional_present], step_size, check=False)
