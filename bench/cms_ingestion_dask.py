"""Ingestion time of the tau+jets analysis: single process (iterative) against Dask, as a ratio.

Writes ``--files`` ttbar NanoAOD files of the built-in generator (``--events`` in all), then times,
alternating the order in each round:

* ``iterative``: ``ingest_sample(executor="iterative")``, the chunks one after the other here;
* ``dask``: ``ingest_sample(executor="dask")`` on a ``LocalCluster`` of ``--workers`` worker
  processes (1 thread each) that is started before the timing (``dask+start`` also times a
  cluster started by the ingestion itself, as the Snakemake job with ``cms.dask.scheduler:
  local`` does).

Both read the same chunks (``--step`` events) and must give identical arrays and cut flows
(checked).  Prints seconds of each (best of ``--rounds``) and the ratio iterative / dask
(above 1: Dask is faster).  On a machine with fewer free cores than workers expect 1x or worse.
Run: python bench/cms_ingestion_dask.py [--events 200000] [--files 4] [--step 25000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from sysaware.cms.generator.nanoaod import generate_process, write_sample
from sysaware.cms.ingestion.distributed import DaskOptions
from sysaware.cms.ingestion.ingest import ingest_sample
from sysaware.cms.objects.truth import TRUTH_BRANCHES, ttbar_labels


def _same(a, b) -> bool:
    return a.cutflows == b.cutflows and all(
        np.array_equal(a.arrays[v][k], b.arrays[v][k]) for v in a.arrays for k in a.arrays[v])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000, help="generated ttbar events in all (after the skim)")
    ap.add_argument("--files", type=int, default=4, help="files they are split into")
    ap.add_argument("--step", type=int, default=25_000, help="events per chunk")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    from distributed import LocalCluster

    kw = {"step_size": a.step, "event_labels": ttbar_labels, "label_branches": TRUTH_BRANCHES}
    times: dict[str, list[float]] = {"iterative": [], "dask": [], "dask+start": []}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        files = [str(write_sample(Path(tmp) / f"ttbar_{i}.root",
                                  generate_process("ttbar", a.events // a.files, seed=100 + i))) for i in range(a.files)]
        print(f"generated {a.files} files, {a.events} events, in {time.perf_counter() - t0:.1f} s "
              f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})", flush=True)
        with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            running = DaskOptions(scheduler=cluster.scheduler_address)
            ingest_sample("warm-up", files[:1], executor="dask", dask=running, **kw)  # workers import everything
            reference = None
            for r in range(a.rounds):
                order = ("iterative", "dask", "dask+start") if r % 2 == 0 else ("dask+start", "dask", "iterative")
                for what in order:
                    t0 = time.perf_counter()
                    if what == "iterative":
                        res = ingest_sample("bench", files, **kw)
                    elif what == "dask":
                        res = ingest_sample("bench", files, executor="dask", dask=running, **kw)
                    else:
                        res = ingest_sample("bench", files, executor="dask",
                                            dask=DaskOptions(workers=a.workers, processes=True), **kw)
                    times[what].append(time.perf_counter() - t0)
                    reference = reference or res
                    if not _same(res, reference):
                        raise SystemExit(f"{what}: results differ from the first run")
                print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    best = {k: min(v) for k, v in times.items()}
    n_chunks = sum(-(-(a.events // a.files) // a.step) for _ in range(a.files))
    print(f"\n{a.events} events, {n_chunks} chunks of <= {a.step}, nominal + 6 shape variations, best of {a.rounds}:")
    print(f"  iterative (1 process)           {best['iterative']:.1f} s")
    print(f"  dask, {a.workers} worker processes        {best['dask']:.1f} s")
    print(f"  dask, cluster started per call  {best['dask+start']:.1f} s")
    print(f"  ratio iterative / dask = {best['iterative'] / best['dask']:.2f} "
          f"(with the cluster start: {best['iterative'] / best['dask+start']:.2f}); identical outputs")
    if a.json:
        Path(a.json).write_text(json.dumps({"seconds": times, "events": a.events, "step": a.step,
                                            "workers": a.workers, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
