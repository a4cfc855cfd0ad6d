"""The config, one slice per stage: each rule reads only the keys of its stage.

A stage's slice is the validated config without the keys the stage does not read, so Snakemake
(its ``params`` rerun trigger, rule ``stage_config``) reruns a rule only when one of its own keys
changes: a training key reruns the trainings and what follows, never the making of the events; a
fit option reruns the fit stage only.  A key a stage reads but its slice lacks is a ``KeyError`` in
that stage, never a silent dependency.

=============  ======================================================  ==========================
stage          rules                                                   leaves out
=============  ======================================================  ==========================
``data``       the events: generation, ingestion, preparation          ``training``, ``methods``,
                                                                       ``fit``, and the analysis's
                                                                       own fit-only keys
``train``      one model's training and evaluation                     ``fit``; the other methods'
                                                                       options
``fit_inputs`` one method's templates and workspace                    the other methods' options
``table``      the tables over every model (paper table, comparison)   ``fit``
=============  ======================================================  ==========================

Every slice leaves out ``threads`` (the rules pass it), ``results_dir`` (the rules pass the paths:
the same config in another folder gives the same slices, byte for byte) and, but for the table,
``reference_dir``; the analysis adds fit-only keys of its own section
(:attr:`~sysaware.analyses.Analysis.stage_excludes`).  ``results/<analysis>/config.json`` stays
the whole provenance record.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

STAGES = ("data", "train", "fit_inputs", "table")
#: dotted keys every analysis's stages leave out
EXCLUDES: dict[str, tuple[str, ...]] = {
    "data": ("threads", "results_dir", "reference_dir", "training", "methods", "fit"),
    "train": ("threads", "results_dir", "reference_dir", "fit"),
    "fit_inputs": ("threads", "results_dir", "reference_dir"),
    "table": ("threads", "results_dir", "fit"),
}


def _drop(cfg: dict[str, Any], dotted: str) -> None:
    node: Any = cfg
    keys = dotted.split(".")
    for k in keys[:-1]:
        if not isinstance(node, dict) or k not in node:
            return
        node = node[k]
    if isinstance(node, dict):
        node.pop(keys[-1], None)


def stage_config(cfg: Mapping[str, Any], analysis: Any, stage: str, method: str | None = None) -> dict[str, Any]:
    """The slice of ``cfg`` that ``stage`` reads; with ``method``, of that method's options only
    (``methods.<method>``, or the refit's ``refit.fits.<method>``)."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} not in {STAGES}")
    out = copy.deepcopy(dict(cfg))
    for key in EXCLUDES[stage] + tuple(analysis.stage_excludes.get(stage, ())):
        _drop(out, key)
    if method is not None:
        if isinstance(out.get("methods"), dict):
            out["methods"] = {m: v for m, v in out["methods"].items() if m == method}
        if isinstance(out.get("refit"), dict):
            out["refit"] = {**out["refit"], "fits": {k: v for k, v in out["refit"]["fits"].items() if k == method}}
    return canonical(out)


def canonical(obj: Any) -> Any:
    """``obj`` with every mapping's keys in sorted order: the slice does not depend on how the
    config file orders its keys (Snakemake compares the rule's params as written)."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj
