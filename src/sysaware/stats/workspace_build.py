"""ROOT templates -> cabinetry config -> collected histograms -> pyhf workspace.

The route every analysis takes to its fit: :func:`~sysaware.stats.templates_io.write_templates_root`
writes the histograms, :func:`~sysaware.stats.pyhf_export.to_cabinetry_config` describes
them, and cabinetry collects them (uproot) and builds the workspace, as a cabinetry user does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cabinetry
import numpy as np

from ..io import atomic_write_text
from .fit_options import apply_template_options, prune_workspace
from .pyhf_export import to_cabinetry_config
from .spec import ModelSpec, ModelSpecError, Templates
from .templates_io import write_templates_root


def workspace_from_cabinetry_config(
    config: dict[str, Any],
    folder: str | os.PathLike[str],
    options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Workspace and pruning report of a cabinetry config, with the fit options applied.

    ``options`` is the config's ``fit`` section: ``smoothing`` and ``symmetrize`` name
    template systematics (:func:`~sysaware.stats.fit_options.apply_template_options`),
    ``prune_threshold`` drops negligible modifiers
    (:func:`~sysaware.stats.fit_options.prune_workspace`).  The config is validated
    against cabinetry's schema and saved as ``folder/cabinetry_config.json``;
    ``cabinetry.templates.collect`` reads the histograms with uproot,
    ``cabinetry.templates.postprocess`` smooths/symmetrises them and
    ``cabinetry.workspace.build`` builds the workspace from the post-processed ones.
    """
    options = options or {}
    config = apply_template_options(config, options.get("smoothing", ()), options.get("symmetrize", ()))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not cabinetry.configuration.validate(config):  # raises with the offending key itself
        raise ModelSpecError("cabinetry rejected the generated config")
    atomic_write_text(folder / "cabinetry_config.json", json.dumps(config, indent=1))
    cabinetry.templates.collect(config, method="uproot")
    cabinetry.templates.postprocess(config)
    ws = dict(cabinetry.workspace.build(config))
    return prune_workspace(ws, float(options.get("prune_threshold", 0.0)))


def build_workspace(
    spec: ModelSpec,
    tpl: Templates,
    observed: Sequence[float] | np.ndarray,
    folder: str | os.PathLike[str],
    edges: Sequence[float] | np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write ``folder/templates.root``, then :func:`workspace_from_cabinetry_config` of its config.

    The histograms are named as CMS combine names them (``channel/sample``,
    ``channel/sample_systematicUp``); the collected ones go to ``folder/histograms``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = write_templates_root(folder / "templates.root", spec, tpl, observed, edges)
    config = to_cabinetry_config(spec, str(root), str(folder / "histograms"))
    return workspace_from_cabinetry_config(config, folder, options)
