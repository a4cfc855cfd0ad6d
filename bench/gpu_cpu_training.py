"""CPU vs CUDA training of the INFERNO benchmark (BCE and INFERNO under benchmark 4), one seed.

    PYTHONPATH=src python bench/gpu_cpu_training.py --out gpu_cpu.json

Prints, per method, the largest weight difference, the relative difference of the first
validation loss, whether the best epoch agrees and the largest relative difference of the
paper table's sqrt(var s) between the two trainings, plus the time ratio GPU/CPU (both timed
in this one run).  Needs a CUDA GPU.  Settings: config/inferno_benchmark_quick.yaml's.
"""

from __future__ import annotations

import argparse
import json

import yaml

from sysaware.benchmark.device_parity import compare_devices
from sysaware.benchmark.pipeline import make_data

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--config", default="config/inferno_benchmark_quick.yaml")
ap.add_argument("--out", help="write the JSON here too")
a = ap.parse_args()
with open(a.config) as fh:
    cfg = yaml.safe_load(fh)
cfg["training"].setdefault("activation", "relu")
data = make_data(cfg)
report = {}
for method in ("bce", "inferno_bm4"):
    report[method] = compare_devices(cfg, method, data)
    summary = {k: v for k, v in report[method].items() if k not in ("cpu", "cuda")}
    print(method, json.dumps(summary))
if a.out:
    with open(a.out, "w") as fh:
        json.dump(report, fh, indent=2)
