"""Distributed ingestion: the chunks of a sample as tasks of coffea's ``processor.Runner`` on Dask.

The installed coffea (2025+) offers two ways to spread NanoEvents processing over a Dask
cluster: the ``dask-awkward`` task graphs of ``coffea.dataset_tools.apply_to_fileset``
(``mode="dask"``), and ``coffea.processor.Runner`` with its ``DaskExecutor``, which hands each
chunk to a worker as *virtual-mode* NanoEvents (the mode :mod:`.nanoevents` reads in) and
tree-reduces the chunk outputs.  The ingestion is a per-chunk numpy/awkward computation
(hashed-normal JER smearing, reselection of every variation, ``ak.to_numpy`` features) that has
no dask-awkward form, so it takes the second: :func:`run_chunks_dask` builds one coffea
``WorkItem`` per entry range of :func:`~sysaware.cms.ingestion.nanoevents.chunk_ranges` (the same ranges as
the single-process path), each preloading only the branches the ingestion reads, runs
:func:`~sysaware.cms.ingestion.chunk.process_chunk` on it through the Runner and returns the chunk
outputs in file and entry order.  :func:`~sysaware.cms.ingestion.ingest.ingest_sample` combines them exactly
as it combines its own, so both paths give identical results.

Where the workers run (:class:`DaskOptions`, config ``cms.dask``):

* ``scheduler: local`` (default): a ``distributed.LocalCluster`` of ``workers`` workers started
  for the ingestion and closed after it (processes, or threads with ``processes: false``);
* ``scheduler: tcp://host:8786``: an existing Dask scheduler; its workers must be able to
  import ``sysaware`` and to read the input files (shared file system, or URLs);
* ``cluster: slurm`` or ``htcondor``: ``dask-jobqueue`` submits ``workers`` worker jobs to the
  batch system (``cluster_options`` are passed to ``SLURMCluster``/``HTCondorCluster``:
  ``cores``, ``memory``, ``queue``, ``account``, ``walltime``, ``job_extra_directives``, ...).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from coffea.processor import ProcessorABC

from .chunk import ChunkOutput, ChunkTask, process_chunk
from .nanoevents import TREE_NAME, FileScan, IngestionError, _why, chunk_ranges, source_name

__all__ = ["CLUSTERS", "ChunkResults", "DaskOptions", "IngestProcessor", "dask_client", "run_chunks_dask", "work_items"]

log = logging.getLogger(__name__)

#: Batch systems that ``cms.dask.cluster`` can name (dask-jobqueue classes).
CLUSTERS: dict[str, str] = {"slurm": "SLURMCluster", "htcondor": "HTCondorCluster"}


@dataclass(frozen=True)
class DaskOptions:
    """Where and how the Dask ingestion runs (config ``cms.dask``; see the module doc).

    ``chunk_size``: events per chunk (``None``: ``cms.chunk_size``); ``retries``: how often a
    failed chunk is resubmitted (a worker lost on a batch system); ``start_timeout``: seconds to
    wait for the first worker of a batch-system cluster.
    """

    scheduler: str = "local"
    workers: int = 2
    threads_per_worker: int = 1
    processes: bool = True
    chunk_size: int | None = None
    cluster: str | None = None
    cluster_options: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0
    start_timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads_per_worker < 1:
            raise ValueError(f"cms.dask: workers and threads_per_worker must be >= 1 ({self.workers}, "
                             f"{self.threads_per_worker})")
        if self.cluster is not None and self.cluster not in CLUSTERS:
            raise ValueError(f"cms.dask.cluster {self.cluster!r} not in {list(CLUSTERS)}")
        if self.scheduler != "local" and "://" not in self.scheduler:
            raise ValueError(f"cms.dask.scheduler {self.scheduler!r}: 'local' or a scheduler address "
                             "such as tcp://host:8786")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> DaskOptions:
        """From the ``cms.dask`` mapping (unset keys keep the defaults above)."""
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"cms.dask: unknown key(s) {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        if "cluster_options" in cfg:
            cfg["cluster_options"] = dict(cfg["cluster_options"] or {})
        return cls(**cfg)

    @property
    def local_threads(self) -> int:
        """Cores a local cluster occupies on this machine (0 when the workers run elsewhere)."""
        if self.cluster is None and self.scheduler == "local":
            return self.workers * self.threads_per_worker
        return 0


def _quiet_worker() -> None:
    # the warnings nanoevents._quiet_schema silences in this process, on every worker
    warnings.filterwarnings("ignore", message="Missing cross-reference", category=RuntimeWarning)
    warnings.filterwarnings("ignore", message="Branch .* already exists", category=RuntimeWarning)


def _wait_for_a_worker(client: Any, options: DaskOptions) -> None:
    """Until a batch-system worker runs (jobs that never start would leave the ingestion waiting)."""
    deadline = time.monotonic() + options.start_timeout
    while not client.scheduler_info().get("workers"):
        if time.monotonic() > deadline:
            raise IngestionError(
                f"cms.dask.cluster {options.cluster!r}: no Dask worker started within {options.start_timeout:.0f} s "
                "(cms.dask.start_timeout); check that the batch system accepts the worker jobs "
                "(cms.dask.cluster_options: queue, account, memory, walltime) and their logs"
            )
        time.sleep(1.0)


@contextmanager
def dask_client(options: DaskOptions) -> Iterator[Any]:
    """A ``distributed.Client`` on the cluster ``options`` describes; a cluster it starts is closed after."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise IngestionError("cms.executor 'dask' needs dask.distributed: pip install 'dask[distributed]'") from err
    cluster = None
    if options.cluster is not None:
        try:
            import dask_jobqueue
        except ImportError as err:
            raise IngestionError(f"cms.dask.cluster {options.cluster!r} needs dask-jobqueue: pip install dask-jobqueue") from err
        cluster = getattr(dask_jobqueue, CLUSTERS[options.cluster])(**dict(options.cluster_options))
        cluster.scale(n=options.workers)
        client = Client(cluster)
        try:
            _wait_for_a_worker(client, options)
        except BaseException:
            client.close()
            with suppress(Exception):  # jobs that failed to submit can make dask-jobqueue's close fail
                cluster.close()
            raise
    elif options.scheduler == "local":
        kw = {"n_workers": options.workers, "threads_per_worker": options.threads_per_worker,
              "processes": options.processes, "dashboard_address": ":0", "silence_logs": logging.WARNING}
        cluster = LocalCluster(**(kw | dict(options.cluster_options)))
        client = Client(cluster)
    else:
        client = Client(options.scheduler)
    try:
        client.run(_quiet_worker)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class ChunkResults:
    """The accumulator of the Runner: ``(file index, entry start, ChunkOutput)`` of the chunks done.

    Adding two concatenates them (coffea's tree reduction); :meth:`ordered` sorts them back into
    file and entry order, whatever order the workers finished in.
    """

    def __init__(self, items: Sequence[tuple[int, int, ChunkOutput]] = ()) -> None:
        self.items = list(items)

    def __add__(self, other: ChunkResults) -> ChunkResults:
        return ChunkResults(self.items + other.items)

    def __iadd__(self, other: ChunkResults) -> ChunkResults:
        self.items.extend(other.items)
        return self

    def ordered(self) -> list[ChunkOutput]:
        """The chunk outputs in (file, entry) order."""
        return [out for _, _, out in sorted(self.items, key=lambda t: (t[0], t[1]))]


class IngestProcessor(ProcessorABC):
    """One chunk of NanoEvents -> :func:`~sysaware.cms.ingestion.chunk.process_chunk` (the chunk's place from its metadata)."""

    def __init__(self, task: ChunkTask) -> None:
        self.task = task

    def process(self, events: Any) -> ChunkResults:
        """The chunk's :class:`~sysaware.cms.ingestion.chunk.ChunkOutput`, keyed by its place."""
        meta = events.metadata
        out = process_chunk(self.task, events, meta["filename"], meta["entrystart"])
        return ChunkResults([(int(meta["file_index"]), int(meta["entrystart"]), out)])

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def work_items(sample: str, files: Sequence[str], scan: FileScan, branches: Sequence[str], step_size: int,
               treepath: str = TREE_NAME) -> list[Any]:
    """coffea ``WorkItem`` of every chunk: the entry ranges of the single-process path, with preload.

    ``usermeta["file_index"]`` is the file's place in ``files`` (scanned by ``scan``).
    """
    from coffea.processor.executor import WorkItem

    items = []
    for i, path in enumerate(source_name(f) for f in files):
        preload = frozenset(scan.preload(path, branches))
        where = path if "://" in path else os.path.abspath(path)  # workers may run in another directory
        for start, stop in chunk_ranges(scan.entries[path], step_size):
            items.append(WorkItem(dataset=sample, filename=where, treename=treepath, entrystart=start,
                                  entrystop=stop, fileuuid=b"", usermeta={"file_index": i}, preload=preload))
    return items


def run_chunks_dask(sample: str, task: ChunkTask, files: Sequence[str], scan: FileScan, branches: Sequence[str],
                    step_size: int, options: DaskOptions) -> list[ChunkOutput]:
    """Every chunk of ``files`` (scanned by ``scan``) through :func:`~sysaware.cms.ingestion.chunk.process_chunk` on Dask.

    Returns the :class:`~sysaware.cms.ingestion.chunk.ChunkOutput` list in file and entry order.  A failed
    chunk (after ``options.retries`` resubmissions) raises :class:`IngestionError` naming the
    sample and coffea's description of the chunk (file and entry range).
    """
    from coffea.nanoevents import NanoAODSchema
    from coffea.processor import DaskExecutor, Runner

    items = work_items(sample, files, scan, branches, step_size)
    if not items:
        return []
    with dask_client(options) as client:
        runner = Runner(executor=DaskExecutor(client=client, status=False, retries=options.retries),
                        schema=NanoAODSchema, chunksize=step_size)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Missing cross-reference", category=RuntimeWarning)
                warnings.filterwarnings("ignore", message="Branch .* already exists", category=RuntimeWarning)
                result = runner(items, IngestProcessor(task), treename=TREE_NAME)
        except Exception as exc:
            raise IngestionError(f"sample {sample!r}: a chunk failed on the Dask cluster ({_why(exc)})") from exc
    done = {(i, s) for i, s, _ in result.items}
    expected = {(int(it.usermeta["file_index"]), it.entrystart) for it in items}
    if done != expected or len(result.items) != len(items):
        raise IngestionError(f"sample {sample!r}: the Dask ingestion returned {len(result.items)} chunk results "
                             f"for {len(items)} chunks")
    paths = [source_name(f) for f in files]
    outputs = result.ordered()
    for i, out in zip(sorted(i for i, _, _ in result.items), outputs):
        out.path = paths[i]  # the name the caller gave (messages name it), not the worker's absolute path
    return outputs
