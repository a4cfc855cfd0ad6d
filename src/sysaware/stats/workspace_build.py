"""ROOT templates -> cabinetry config -> collected histograms -> pyhf workspace.

The route every analysis takes to its fit: :func:`~sysaware.stats.templates_io.write_templates_root`
writes the histograms, :func:`~sysaware.stats.pyhf_export.to_cabinetry_config` describes
them, and cabinetry collects them (uproot) and builds the workspace, as a cabinetry user does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cabinetry
import numpy as np

from ..io import atomic_write_text
from .pyhf_export import to_cabinetry_config
from .spec import ModelSpec, ModelSpecError, Templates
from .templates_io import write_templates_root


def build_workspace(
    spec: ModelSpec,
    tpl: Templates,
    observed: Sequence[float] | np.ndarray,
    folder: str | os.PathLike[str],
    edges: Sequence[float] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Write ``folder/templates.root`` and ``folder/cabinetry_config.json``; return the workspace.

    The cabinetry config is validated against cabinetry's own schema before use; the
    collected histograms go to ``folder/histograms``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = write_templates_root(folder / "templates.root", spec, tpl, observed, edges)
    config = to_cabinetry_config(spec, str(root), str(folder / "histograms"))
    if not cabinetry.configuration.validate(config):  # raises with the offending key itself
        raise ModelSpecError("cabinetry rejected the generated config")
    atomic_write_text(folder / "cabinetry_config.json", json.dumps(config, indent=1))
    cabinetry.templates.collect(config, method="uproot")
    return dict(cabinetry.workspace.build(config))
