"""Fit + impact ranking of a 20-nuisance model through Snakemake at 1, 2 and N cores, as ratios.

Writes a refit input (2 channels x 3 samples, 10 normalisation and 10 template
systematics, combine naming) and a refit config into a scratch folder, then for each
core count runs, from an empty results folder,

    snakemake --cores K --configfile <cfg> <fit_results.json> <ranking.json>

(the workspace checkpoint, the fit with MINOS/stat-only/Asimov, 20 impact jobs, the
ranking) and prints the wall time of each, relative to the 1-core time.  Rounds alternate
the core counts so that drifts of a shared machine hit all of them alike.
Run: python bench/fit_ranking_cores.py [--cores 1 2 4] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hist
import numpy as np
import uproot
import yaml

REPO = Path(__file__).resolve().parents[1]
N_NORM = 10
N_SHAPE = 10
SAMPLES = ("signal", "bkg_a", "bkg_b")
CHANNELS = ("sr", "cr")
EDGES = np.linspace(0.0, 1.0, 9)


def _hist(values: np.ndarray) -> hist.Hist:
    h = hist.Hist.new.Variable(EDGES).Weight()
    h[...] = np.stack([values, values], axis=-1)
    return h


def write_inputs(folder: Path) -> dict:
    """ROOT histograms and the refit entry of a model with N_NORM + N_SHAPE nuisances."""
    rng = np.random.default_rng(1)
    x = 0.5 * (EDGES[1:] + EDGES[:-1])
    nominal = {
        ("sr", "signal"): 30 * np.exp(-((x - 0.7) ** 2) / 0.02), ("cr", "signal"): 2 + 0 * x,
        ("sr", "bkg_a"): 200 * np.exp(-2 * x), ("cr", "bkg_a"): 800 * np.exp(-2 * x),
        ("sr", "bkg_b"): 50 + 30 * x, ("cr", "bkg_b"): 300 + 100 * x,
    }
    objects = {}
    for (ch, s), nom in nominal.items():
        objects[f"{ch}/{s}"] = _hist(nom)
    for ch in CHANNELS:
        total = sum(nominal[(ch, s)] for s in SAMPLES)
        objects[f"{ch}/data_obs"] = _hist(rng.poisson(total).astype(float))
    systematics = []
    for k in range(N_NORM):
        size = 0.01 + 0.01 * k
        systematics.append({"name": f"norm{k}", "type": "normalization", "samples": [SAMPLES[k % 3]],
                            "up": size, "down": -size})
    for k in range(N_SHAPE):
        sample = SAMPLES[1 + k % 2]
        slope = 0.02 + 0.01 * k
        for ch in CHANNELS:
            nom = nominal[(ch, sample)]
            objects[f"{ch}/{sample}_shape{k}Up"] = _hist(nom * (1 + slope * (x - 0.5)))
            objects[f"{ch}/{sample}_shape{k}Down"] = _hist(nom * (1 - slope * (x - 0.5)))
        systematics.append({"name": f"shape{k}", "type": "shape", "samples": [sample]})
    path = folder / "inputs.root"
    with uproot.recreate(path) as f:
        for key, h in objects.items():
            f[key] = h
    return {
        "nominal": f"{path}:{{channel}}/{{sample}}",
        "variation": f"{path}:{{channel}}/{{sample}}_{{systematic}}{{direction}}",
        "channels": list(CHANNELS), "data": "data_obs", "poi": "mu",
        "samples": [{"name": s, "stat_error": False} for s in SAMPLES],
        "normfactors": [{"name": "mu", "samples": ["signal"], "bounds": [-5.0, 10.0]}],
        "systematics": systematics,
    }


def run_once(cfg_path: Path, results: Path, cores: int) -> float:
    """Wall seconds of one Snakemake run of fit + ranking from an empty results folder."""
    shutil.rmtree(results, ignore_errors=True)
    targets = [str(results / "refit" / "fit" / "bench" / f) for f in ("fit_results.json", "ranking.json")]
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--nolock", "--cores", str(cores), "--configfile", str(cfg_path)],
        cwd=REPO, capture_output=True, text=True,
        # the rules' shell commands call `python`: the interpreter running this script
        env=os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(res.stdout[-3000:] + res.stderr[-3000:])
    n_impacts = len(list((results / "refit" / "fit" / "bench" / "impacts").glob("*.json")))
    if n_impacts != N_NORM + N_SHAPE:
        raise RuntimeError(f"expected {N_NORM + N_SHAPE} impact jobs, found {n_impacts}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, nargs="+", default=sorted({1, 2, os.cpu_count() or 1}))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", help="write the timings here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        entry = write_inputs(folder)
        cfg_path = folder / "refit.yaml"
        results = folder / "results"
        cfg_path.write_text(yaml.safe_dump({"analysis": "refit", "seed": 1, "results_dir": str(results),
                                            "refit": {"fits": {"bench": entry}}}))
        times: dict[int, list[float]] = {k: [] for k in a.cores}
        for r in range(a.rounds):
            for k in (a.cores if r % 2 == 0 else a.cores[::-1]):
                times[k].append(run_once(cfg_path, results, k))
                print(f"round {r}: {k} cores {times[k][-1]:.1f} s", flush=True)
    base = min(times[a.cores[0]])
    print(f"\nfit + ranking, {N_NORM + N_SHAPE} nuisances ({N_NORM + N_SHAPE} impact jobs), best of {a.rounds}:")
    print("| cores | seconds | time / time at {} core(s) | speed-up |".format(a.cores[0]))
    print("|---|---|---|---|")
    for k in a.cores:
        t = min(times[k])
        print(f"| {k} | {t:.1f} | {t / base:.2f} | {base / t:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"cores": a.cores, "seconds": times, "machine_cpus": os.cpu_count()}, indent=1))


if __name__ == "__main__":
    main()
