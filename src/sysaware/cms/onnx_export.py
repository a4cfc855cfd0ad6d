"""ONNX export of a trained summary, checked against torch with onnxruntime.

The network (standardisation included) goes through ``torch.onnx.export`` (the
``torch.export``-based exporter) with a dynamic batch axis; onnxruntime then runs the file
on real events and its outputs must equal torch's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import SysawareError
from ..io import temporary_path


ATOL = 1e-4


class OnnxMismatchError(SysawareError, RuntimeError):
    """onnxruntime's outputs differ from torch's beyond the tolerance."""


def export_onnx(net: nn.Module, path: str | Path, samples: Mapping[str, Any] | None = None,
                x_check: np.ndarray | None = None) -> dict[str, float]:
    """Write ``path`` and check onnxruntime against torch on ``x_check`` (or the samples' nominal events).

    Returns ``{"n_events", "max_abs_diff"}``; raises :class:`OnnxMismatchError` (removing the
    file) when the largest difference exceeds :data:`ATOL`.
    """
    import onnxruntime as ort

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if x_check is None:
        if not samples:
            raise ValueError("export_onnx needs x_check or samples to check the export on")
        x_check = np.concatenate([s.nominal.x[:500] for s in samples.values()])
    x_check = np.ascontiguousarray(x_check, dtype=np.float32)
    net = net.eval().cpu()
    example = torch.from_numpy(x_check[:16])
    program = torch.onnx.export(net, (example,), input_names=["features"], output_names=["summary"],
                                dynamic_shapes=({0: torch.export.Dim("events")},), dynamo=True, verbose=False)
    with temporary_path(path) as tmp:
        program.save(str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        ours = session.run(None, {"features": x_check})[0]
        with torch.no_grad():
            ref = net(torch.from_numpy(x_check)).numpy()
        diff = float(np.max(np.abs(ours - ref))) if len(x_check) else 0.0
        if not diff <= ATOL:
            raise OnnxMismatchError(f"{path}: onnxruntime differs from torch by {diff:.3g} (> {ATOL})")
    return {"n_events": int(len(x_check)), "max_abs_diff": diff}
