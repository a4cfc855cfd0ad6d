"""The same training on the CPU and on a CUDA GPU: how far apart the results are.

GPU kernels sum in another order than the CPU's, so float32 trainings agree to rounding at
the first step and drift apart slowly; what matters is that the summaries are equally good.
:func:`compare_devices` trains one benchmark model with one seed on both devices (the initial
weights and batches are drawn on the CPU, so both start from the same point) and reports the
largest weight difference, the validation-loss histories and the paper table's sqrt(var s).
``tests/test_gpu_training.py`` holds the tolerances; ``bench/gpu_cpu_training.py`` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..train.run import train
from .pipeline import binned_sqrt_var_s
from .training import BenchmarkData


def compare_devices(cfg: Mapping[str, Any], method: str, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Train ``method`` (repeat 0) with ``training.device`` cpu and cuda; their differences."""
    if not torch.cuda.is_available():
        raise RuntimeError("compare_devices needs a CUDA GPU (torch sees none)")
    out: dict[str, Any] = {}
    nets = {}
    for device in ("cpu", "cuda"):
        c = {**cfg, "training": {**cfg["training"], "device": device}}
        t0 = time.perf_counter()
        net, meta, hist = train(c, BenchmarkData(c, data), method, 0)
        seconds = time.perf_counter() - t0
        net = net.cpu().eval()
        nets[device] = net
        out[device] = {"valid": hist.valid, "best_epoch": hist.best_epoch,
                       "sqrt_var_s": binned_sqrt_var_s(cfg, net, data), "seconds": seconds}
    cpu, gpu = out["cpu"], out["cuda"]
    out["max_abs_weight_diff"] = max(float((a - b).abs().max()) for a, b in
                                     zip(nets["cpu"].state_dict().values(), nets["cuda"].state_dict().values()))
    out["first_valid_rel_diff"] = abs(gpu["valid"][0] / cpu["valid"][0] - 1)
    out["same_best_epoch"] = cpu["best_epoch"] == gpu["best_epoch"]
    out["time_ratio_gpu_to_cpu"] = gpu["seconds"] / cpu["seconds"]
    out["max_sqrt_var_s_rel_diff"] = max(abs(g / c - 1) for g, c in zip(gpu["sqrt_var_s"], cpu["sqrt_var_s"]))
    return out
