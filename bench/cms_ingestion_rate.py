"""Ingestion rate of the tau+jets analysis against a bare uproot read of the same branches, as a ratio.

Writes a ttbar NanoAOD file with the built-in generator (or takes ``--files``), then times, in
one process on one core and alternating:

* ``ingest_sample``: NanoEvents over uproot, nominal plus all six shape variations (JES, JER,
  TES up/down), each fully reselected, features, b-tag weights, truth labels;
* ``bare_read``: plain ``uproot.iterate`` of the branches the ingestion reads, no processing.

Prints events/s of each (best of ``--rounds``) and the ratio ingestion / bare read; the goal of
issue 5 is at least 0.5.
Run: python bench/cms_ingestion_rate.py [--events 100000] [--rounds 3] [--files a.root ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sysaware.cms.generator.nanoaod import generate_process, write_sample
from sysaware.cms.ingestion.ingest import ingest_sample, required_branches
from sysaware.cms.ingestion.nanoevents import bare_read
from sysaware.cms.objects.selection import SelectionConfig
from sysaware.cms.objects.truth import TRUTH_BRANCHES, ttbar_labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="generated ttbar events (after the skim)")
    ap.add_argument("--files", nargs="*", default=[], help="NanoAOD files to read instead of generating one")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--step", type=int, default=100_000, help="events per chunk")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = a.files or [str(write_sample(Path(tmp) / "ttbar.root", generate_process("ttbar", a.events, seed=5)))]
        branches = [*required_branches(SelectionConfig()), *TRUTH_BRANCHES]
        ingest_rate, bare_rate = [], []
        for r in range(a.rounds):
            order = ("ingest", "bare") if r % 2 == 0 else ("bare", "ingest")
            for what in order:
                t0 = time.perf_counter()
                if what == "ingest":
                    res = ingest_sample("bench", files, step_size=a.step, event_labels=ttbar_labels,
                                        label_branches=TRUTH_BRANCHES)
                    ingest_rate.append(res.n_events_read / (time.perf_counter() - t0))
                else:
                    stats = bare_read(files, branches, a.step, check=False)
                    bare_rate.append(stats.n_events / (time.perf_counter() - t0))
            print(f"round {r}: ingestion {ingest_rate[-1]:.0f} events/s, bare uproot {bare_rate[-1]:.0f} events/s",
                  flush=True)
    best_i, best_b = max(ingest_rate), max(bare_rate)
    print(f"\nnominal + 6 shape variations, 1 core, best of {a.rounds}:")
    print(f"  ingestion  {best_i:.0f} events/s")
    print(f"  bare read  {best_b:.0f} events/s (same branches, uproot.iterate)")
    print(f"  ratio ingestion / bare read = {best_i / best_b:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"ingest_events_per_s": ingest_rate, "bare_events_per_s": bare_rate}))


if __name__ == "__main__":
    main()
