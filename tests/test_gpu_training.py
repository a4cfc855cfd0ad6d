"""Training uses a CUDA GPU when torch sees one (training.device: auto), and gives the CPU's
results within the stated tolerance.  Runs only where a GPU is visible (CI has none; the
closing note of issue 8 gives the run on an H100).

Tolerance: float32 kernels sum in another order on the GPU, so the trainings agree to rounding
at the start (first validation loss within 1e-5 relative) and drift apart slowly; the
summaries they end with must be equally good: the same best epoch and the paper table's
sqrt(var s) within 3% in every benchmark column.
"""

from __future__ import annotations

import pytest
import torch

from helpers import with_defaults
from sysaware.benchmark.device_parity import compare_devices
from sysaware.benchmark.pipeline import make_data
from sysaware.train.networks import resolve_device

CFG = with_defaults({
    "analysis": "inferno_benchmark",
    "seed": 20180612,
    "benchmark": {"signal_mean": [0.0, 0.0], "n_train": 20000, "n_valid": 10000, "n_test": 100000, "n_repeats": 1},
    "training": {"hidden": [100, 100], "activation": "relu", "n_bins": 10, "temperature": 0.1, "optimizer": "adam",
                 "lr": 1e-3, "batch_size": 2000, "epochs": 8, "patience": 8},
    "methods": {"bce": {"enabled": True}, "inferno": {"trained_under": [4], "nuisance_mode": "exact"}},
})

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch")


def test_auto_device_is_the_gpu_when_one_is_visible():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@needs_gpu
@pytest.mark.parametrize("method", ["bce", "inferno_bm4"])
def test_gpu_training_matches_cpu_within_tolerance(method):
    res = compare_devices(CFG, method, make_data(CFG))
    assert res["first_valid_rel_diff"] < 1e-5
    assert res["same_best_epoch"]
    assert res["max_sqrt_var_s_rel_diff"] < 0.03, res
