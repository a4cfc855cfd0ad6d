"""Ingest one sample: chunked NanoEvents, nominal + shape variations with full reselection.

:func:`ingest_sample` returns, per variation, a dict of numpy arrays with the 8 features
(:data:`~sysaware.cms.objects.features.FEATURE_NAMES`), the event ids (``run``, ``luminosityBlock``,
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
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from ..objects.selection import CUT_NAMES, CutFlow, SelectionConfig
from ..objects.variations import (
    MC_BRANCHES,
    OPTIONAL_WEIGHT_BRANCHES,
    SHAPE_VARIATIONS,
    SystematicsConfig,
    btag_event_weights,
)
from .chunk import ChunkOutput, ChunkTask, process_chunk
from .nanoevents import (
    DEFAULT_STEP_SIZE,
    BareReadStats,
    IngestionError,
    bare_read,
    iterate_events,
    scan_files,
)

if TYPE_CHECKING:
    from .distributed import DaskOptions

__all__ = [
    "EXECUTORS",
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
#: How the chunks are run: one after the other here, or as tasks on a Dask cluster (coffea's DaskExecutor).
EXECUTORS: tuple[str, ...] = ("iterative", "dask")


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
    executor: str = "iterative",
    dask: DaskOptions | None = None,
) -> SampleIngestion:
    """Select, vary and featurise one sample's files, chunk by chunk.

    ``variations`` defaults to all of :data:`~sysaware.cms.objects.variations.SHAPE_VARIATIONS` on MC
    and ``("nominal",)`` on data; nominal is always run (first).  ``event_labels(events)``
    (reading ``label_branches`` too) gives per-event arrays, e.g. the generator-level decay
    class, stored for the selected events of every variation.  Raises
    :class:`~sysaware.cms.ingestion.nanoevents.IngestionError` for unreadable inputs (naming the file and
    branch), for NaN/inf in a branch read unless ``nan_policy="drop"`` (naming the file, branch
    and event count; see the module doc) and when no event passes the nominal selection (naming
    the sample and giving its cut flow).

    ``executor``: ``"iterative"`` runs the chunks one after the other in this process;
    ``"dask"`` runs the same chunks (same entry ranges) as tasks of coffea's ``processor.Runner``
    with its ``DaskExecutor`` on the cluster of ``dask`` (:class:`~sysaware.cms.ingestion.distributed.DaskOptions`;
    default a local cluster of 2 worker processes).  Each chunk's result depends on its events
    only (the JER smearing is keyed by event id) and the chunk results are combined in file and
    entry order, so both executors return identical arrays, cut flows and sums.
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

    task = ChunkTask(selection=selection, systematics=systematics, is_mc=is_mc, variations=variations,
                     optional_present=scan.optional_present, checked=checked, nan_policy=nan_policy,
                     event_labels=event_labels)
    if executor == "iterative":
        outputs: list[ChunkOutput] = []
        failing = False  # nan_policy error: once a chunk has NaN/inf only the counts of the others are wanted
        for chunk, events in iterate_events(files, branches, step_size, optional=optional, scan=scan):
            out = process_chunk(task, events, chunk.path, chunk.entry_start, count_only=failing)
            failing = failing or (bool(out.bad) and nan_policy == "error")
            outputs.append(out)
    elif executor == "dask":
        from .distributed import DaskOptions, run_chunks_dask

        outputs = run_chunks_dask(sample, task, files, scan, branches, step_size, dask or DaskOptions())
    else:
        raise ValueError(f"executor {executor!r} not in {list(EXECUTORS)}")

    n_read = 0
    sum_gen = 0.0
    bad_files: dict[str, int] = {}  # file -> events with a non-finite value
    bad_branches: dict[str, dict[str, int]] = {}  # file -> branch -> events
    parts: dict[str, list[dict[str, Any]]] = {v: [] for v in variations}
    flows: dict[str, CutFlow] = {v: CutFlow() for v in variations}
    tag_counts = {k: [0, 0] for k in (5, 4, 0)}
    for out in outputs:  # in file and entry order, whichever executor ran them
        n_read += out.n_read
        if out.bad:
            bad_files[out.path] = bad_files.get(out.path, 0) + out.n_bad
            per_branch = bad_branches.setdefault(out.path, {})
            for b, k in out.bad.items():
                per_branch[b] = per_branch.get(b, 0) + k
        if out.parts is None:
            continue
        sum_gen += out.sum_gen
        for var in variations:
            flows[var].add(out.flows[var])
            parts[var].append(out.parts[var])
        for k, (t, a) in out.tag_counts.items():
            tag_counts[k][0] += t
            tag_counts[k][1] += a

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
