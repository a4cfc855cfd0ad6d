"""Open CMS NanoAOD files as coffea NanoEvents, in entry-range chunks, reading only what is needed.

The installed coffea (2025+) builds NanoEvents in three modes: ``"eager"``, ``"virtual"`` and
``"dask"``.  For local chunked processing coffea's own executors use
``NanoEventsFactory.from_root(file, treepath=..., mode="virtual", entry_start=..., entry_stop=...,
preload=...)``: every branch is a virtual (lazily read) buffer, and the branches named in
``preload`` are read up front in one ``TTree.arrays`` call for the entry range.  This module does
the same with the branches the analysis needs, so nothing else of the (about 950-branch) NanoAOD
tree is ever read.

Every problem with an input file is reported as :class:`IngestionError` naming the file (and the
branch, where one is missing) before any processing starts; a file shorter than its ROOT header
says (a truncated copy) is one.  :func:`nonfinite_events` finds NaN/inf values in the branches
read, for the ingestion's ``nan_policy``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from ...errors import SysawareError

TREE_NAME = "Events"
DEFAULT_STEP_SIZE = 100_000

#: Event identifiers, always read; they pair nominal and shifted events.
EVENT_ID_BRANCHES: tuple[str, ...] = ("run", "luminosityBlock", "event")


class IngestionError(SysawareError, RuntimeError):
    """An input file or sample cannot be ingested; the message names the culprit."""


@dataclass(frozen=True)
class Chunk:
    """An entry range ``[entry_start, entry_stop)`` of one file's ``Events`` tree."""

    path: str
    entry_start: int
    entry_stop: int

    @property
    def n_entries(self) -> int:
        """Number of entries in the chunk."""
        return self.entry_stop - self.entry_start


@contextmanager
def _quiet_schema() -> Iterator[None]:
    # NanoAODSchema warns about cross-references to collections a production does not store
    # (LowPtElectron -> Photon, FatJet -> SubJet, ...) and about Photon_mass being overridden;
    # neither concerns the collections used here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Missing cross-reference", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Branch .* already exists", category=RuntimeWarning)
        yield


def _why(exc: BaseException) -> str:
    """``Type: message`` of an exception on one line (uproot's messages span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def source_name(path: str | Path) -> str:
    """A local path normalised, a URL (``root://``, ``https://``...) kept as it is."""
    text = str(path)
    return text if "://" in text else str(Path(text))


def open_tree(path: str | Path, treepath: str = TREE_NAME) -> tuple[Any, Any]:
    """Open ``path`` (a local file or a URL uproot can read) and return ``(file, tree)``.

    :class:`IngestionError` if impossible; the caller closes the file (``file.close()``).
    """
    p = source_name(path)
    if "://" not in p:
        if not Path(p).exists():
            raise IngestionError(f"NanoAOD file not found: {p}")
        if not Path(p).is_file():
            raise IngestionError(f"NanoAOD input is not a regular file: {p}")
    try:
        f = uproot.open(p)
    except Exception as exc:  # uproot raises ValueError, OSError, struct.error, ... on junk
        raise IngestionError(f"cannot read {p} as a ROOT file ({_why(exc)})") from exc
    try:
        if "://" not in p:
            size, end = Path(p).stat().st_size, int(f.file.fEND)
            if size < end:
                raise IngestionError(
                    f"{p} is truncated: {size} bytes on disk, its ROOT header says {end} "
                    "(an interrupted copy or download?)"
                )
        if treepath not in f:
            keys = sorted({k.split(";")[0] for k in f.keys(recursive=False)})
            raise IngestionError(f"{p} has no '{treepath}' tree (top-level keys: {keys or 'none'})")
        tree = f[treepath]
        if not isinstance(tree, uproot.TTree):
            raise IngestionError(f"{p}: '{treepath}' is a {type(tree).__name__}, not a TTree")
    except IngestionError:
        f.close()
        raise
    except Exception as exc:
        f.close()
        raise IngestionError(f"cannot read the '{treepath}' tree of {p} ({_why(exc)})") from exc
    return f, tree


def check_branches(tree: Any, path: str | Path, required: Iterable[str]) -> None:
    """Raise :class:`IngestionError` naming the file and every missing branch."""
    have = set(tree.keys())
    missing = [b for b in dict.fromkeys(required) if b not in have]
    if missing:
        raise IngestionError(
            f"{path} lacks required branch{'es' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"in tree '{tree.name}'"
        )


def branch_array(events: Any, name: str) -> Any:
    """The NanoEvents field of NanoAOD branch ``name`` (``Jet_pt`` -> ``events.Jet.pt``, ``genWeight``)."""
    prefix, _, rest = name.partition("_")
    if rest and prefix in events.fields and rest in events[prefix].fields:
        return events[prefix][rest]
    return events[name]


def nonfinite_events(events: Any, branches: Iterable[str]) -> dict[str, np.ndarray]:
    """Events with a NaN or infinite value, per floating-point branch of ``branches`` that has one.

    Returns branch -> boolean mask over ``events`` (an event is flagged when any of its objects
    has a non-finite value); branches whose values are all finite (or not floating) are left out.
    """
    out: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(branches):
        arr = branch_array(events, name)
        flat = ak.to_numpy(ak.flatten(arr, axis=None))
        if flat.dtype.kind != "f" or np.isfinite(flat).all():
            continue
        bad = ~np.isfinite(arr)
        while bad.ndim > 1:  # jagged: any object of the event
            bad = ak.any(bad, axis=-1)
        out[name] = np.asarray(ak.to_numpy(bad), dtype=bool)
    return out


def chunk_ranges(n_entries: int, step_size: int) -> list[tuple[int, int]]:
    """Entry ranges of at most ``step_size`` entries covering ``[0, n_entries)``."""
    if step_size < 1:
        raise ValueError(f"step_size must be >= 1, got {step_size}")
    return [(s, min(s + step_size, n_entries)) for s in range(0, n_entries, step_size)]


def _counts_branches(branches: Iterable[str], available: set[str]) -> list[str]:
    """Add the NanoAOD counter ``nX`` of every jagged ``X_y`` branch (NanoEvents needs it)."""
    out = list(dict.fromkeys(branches))
    for b in list(out):
        if "_" in b:
            counter = "n" + b.split("_", 1)[0]
            if counter in available and counter not in out:
                out.append(counter)
    return out


def events_from_tree(
    file: Any,
    path: str | Path,
    entry_start: int,
    entry_stop: int,
    preload: Sequence[str],
    treepath: str = TREE_NAME,
    access_log: list | None = None,
) -> Any:
    """NanoEvents (virtual mode, ``NanoAODSchema``) of one entry range of an open file.

    ``preload`` branches are read in bulk for the range; anything else is read lazily only if it
    is accessed.  Read failures become :class:`IngestionError` naming the file.
    """
    try:
        with _quiet_schema():
            factory = NanoEventsFactory.from_root(
                file,
                treepath=treepath,
                mode="virtual",
                entry_start=entry_start,
                entry_stop=entry_stop,
                preload=list(preload),
                schemaclass=NanoAODSchema,
                metadata={"filename": str(path), "treename": treepath},
                access_log=access_log,
            )
            return factory.events()
    except Exception as exc:
        raise IngestionError(
            f"cannot read entries {entry_start}-{entry_stop} of {path} ({_why(exc)})"
        ) from exc


@dataclass(frozen=True)
class FileScan:
    """Entries per file, the optional branches present in every file and each file's NanoAOD counters.

    ``counters[path]``: the ``nX`` branches of that file for the collections of the branches
    scanned (NanoEvents needs them preloaded with the collection's branches).
    """

    entries: dict[str, int]
    optional_present: tuple[str, ...]
    counters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def preload(self, path: str, branches: Sequence[str]) -> list[str]:
        """Event ids, ``branches``, the optional branches present and their counters, for ``path``."""
        wanted = list(dict.fromkeys([*EVENT_ID_BRANCHES, *branches, *self.optional_present]))
        return _counts_branches(wanted, set(self.counters.get(path, ())))

    @property
    def n_entries(self) -> int:
        """Total entries over all files."""
        return sum(self.entries.values())


def scan_files(
    paths: Iterable[str | Path],
    required: Sequence[str],
    optional: Sequence[str] = (),
    treepath: str = TREE_NAME,
) -> FileScan:
    """Check every file (exists, readable, has the tree and ``required`` plus event-id branches).

    Returns the entry counts and which ``optional`` branches every file has.
    """
    required = list(dict.fromkeys([*EVENT_ID_BRANCHES, *required]))
    entries: dict[str, int] = {}
    counters: dict[str, tuple[str, ...]] = {}
    present = set(optional)
    for p in (source_name(p) for p in paths):
        f, tree = open_tree(p, treepath)
        try:
            check_branches(tree, p, required)
            entries[p] = int(tree.num_entries)
            keys = set(tree.keys())
            present &= keys
            counters[p] = tuple(sorted({"n" + b.split("_", 1)[0] for b in [*required, *optional] if "_" in b} & keys))
        finally:
            f.close()
    return FileScan(entries=entries, optional_present=tuple(b for b in optional if b in present), counters=counters)


def iterate_events(
    paths: Iterable[str | Path],
    branches: Sequence[str],
    step_size: int = DEFAULT_STEP_SIZE,
    treepath: str = TREE_NAME,
    optional: Sequence[str] = (),
    scan: FileScan | None = None,
) -> Iterator[tuple[Chunk, Any]]:
    """Yield ``(chunk, events)`` for every entry range of every file.

    All files are checked (:func:`scan_files`, or the given ``scan``) before the first chunk is
    yielded, so a bad file late in the list fails fast.  ``branches`` and the ``optional``
    branches present in every file are preloaded.  Each file stays open while its chunks are
    consumed; materialise what you keep (numpy) before asking for the next chunk.
    """
    paths = [source_name(p) for p in paths]
    if scan is None:
        scan = scan_files(paths, branches, optional, treepath)
    wanted = list(dict.fromkeys([*EVENT_ID_BRANCHES, *branches, *scan.optional_present]))
    for p in paths:
        f, tree = open_tree(p, treepath)
        try:
            preload = _counts_branches(wanted, set(tree.keys()))
            for start, stop in chunk_ranges(scan.entries[p], step_size):
                yield Chunk(p, start, stop), events_from_tree(f, p, start, stop, preload, treepath)
        finally:
            f.close()


@dataclass(frozen=True)
class BareReadStats:
    """What a plain-uproot read of the analysis branches did (for the ingestion benchmark)."""

    n_events: int
    n_branches: int
    n_bytes: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        """Read rate."""
        return self.n_events / self.seconds if self.seconds > 0 else float("inf")


def bare_read(
    paths: Iterable[str | Path],
    branches: Sequence[str],
    step_size: int = DEFAULT_STEP_SIZE,
    treepath: str = TREE_NAME,
    check: bool = True,
) -> BareReadStats:
    """Read ``branches`` (plus event ids) of every file with ``uproot.iterate``, no processing.

    Same chunking and branch list as the ingestion, so the two rates compare like for like;
    ``n_bytes`` is the in-memory size of what was read.  ``check=False`` skips the file checks
    (when the caller has just run :func:`scan_files`); they are not part of the timing anyway.
    """
    paths = [source_name(p) for p in paths]
    required = list(dict.fromkeys([*EVENT_ID_BRANCHES, *branches]))
    if check:
        scan_files(paths, required, treepath=treepath)  # same checks and messages as the ingestion
    n_events = n_bytes = 0
    t0 = time.perf_counter()
    for arrays in uproot.iterate(
        {str(p): treepath for p in paths},
        filter_name=required,
        step_size=step_size,
        library="ak",
    ):
        n_events += len(arrays)
        n_bytes += int(arrays.nbytes)
    seconds = time.perf_counter() - t0
    return BareReadStats(n_events=n_events, n_branches=len(required), n_bytes=n_bytes, seconds=seconds)


def event_ids(events: Any) -> dict[str, np.ndarray]:
    """``run``, ``luminosityBlock`` and ``event`` as numpy arrays (uint32, uint32, uint64)."""
    return {
        "run": ak.to_numpy(events.run).astype(np.uint32),
        "luminosityBlock": ak.to_numpy(events.luminosityBlock).astype(np.uint32),
        "event": ak.to_numpy(events.event).astype(np.uint64),
    }
