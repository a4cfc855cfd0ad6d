"""Figures of the fit stage, rebuilt from the JSON numbers of :mod:`sysaware.fit` (no refit).

The pulls, correlation, scan, ranking and data/MC figures are cabinetry's
(``cabinetry.visualize.pulls``, ``correlation_matrix``, ``scan``, ``ranking``,
``data_mc``), fed with cabinetry result containers rebuilt from the JSON.
The template-variation figures are drawn here with mplhep from the workspace's
normsys/histosys data, because ``cabinetry.visualize.templates`` needs a cabinetry
config and the template histograms on disk, which a workspace does not carry.

Importing this module selects matplotlib's non-interactive Agg backend.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import cabinetry  # noqa: E402  (after the backend is chosen)
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from ..io import save_figure  # noqa: E402
from .containers import to_fit_results, to_ranking_results, to_scan_results  # noqa: E402
from .core import _parameter_table, model_and_data  # noqa: E402

log = logging.getLogger(__name__)

Formats = Sequence[str]


def _save(fig: matplotlib.figure.Figure, out_dir: Path, stem: str, formats: Formats) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        save_figure(fig, path)
        paths.append(path)
    plt.close(fig)
    return paths


def _placeholder(text: str) -> matplotlib.figure.Figure:
    """A figure that says why there is nothing to draw (so an expected file still exists)."""
    fig, ax = plt.subplots(figsize=(6, 2), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def _rgba(fig: matplotlib.figure.Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def _stack_images(images: list[np.ndarray]) -> np.ndarray:
    """Stack RGBA images vertically, padded with white to the widest."""
    width = max(im.shape[1] for im in images)
    padded = []
    for im in images:
        pad = np.full((im.shape[0], width - im.shape[1], 4), 255, dtype=im.dtype)
        padded.append(np.concatenate([im, pad], axis=1))
    return np.concatenate(padded, axis=0)


def _data_mc(prediction: Any, data: list[float], out_dir: Path, stems: Sequence[str],
             formats: Formats) -> list[Path]:
    """``cabinetry.visualize.data_mc`` for every channel, written under each of ``stems``.

    One channel: the cabinetry figure itself.  Several: each channel's figure is drawn
    once and written as ``<stem>_<channel>``, and ``<stem>`` stacks them (a raster image).
    """
    figs = cabinetry.visualize.data_mc(prediction, data, close_figure=False, save_figure=False) or []
    paths: list[Path] = []
    if len(figs) <= 1:
        fig = figs[0]["figure"] if figs else _placeholder("no channels to draw")
        first = _save(fig, out_dir, stems[0], formats)
        paths += first
        for stem in stems[1:]:
            for src in first:
                dst = out_dir / f"{stem}{src.suffix}"
                shutil.copyfile(src, dst)
                paths.append(dst)
        return paths
    images = []
    for entry in figs:
        image = _rgba(entry["figure"])
        plt.close(entry["figure"])
        images.append(image)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", entry["region"])
        for stem in stems:
            for fmt in formats:
                path = out_dir / f"{stem}_{safe}.{fmt}"
                plt.imsave(path, image, format=fmt)
                paths.append(path)
    combined = _stack_images(images)
    for stem in stems:
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            plt.imsave(path, combined, format=fmt)
            paths.append(path)
    return paths


def plot_fit(
    workspace: dict[str, Any],
    fit_json: dict[str, Any],
    out_dir: str | Path,
    scan: dict[str, Any] | None = None,
    ranking: dict[str, Any] | None = None,
    *,
    formats: Formats = ("png",),
) -> list[Path]:
    """Write the fit figures into ``out_dir``, from the JSON numbers (nothing is refitted).

    Files (``stem.<format>`` for each of ``formats``): ``pulls`` (constrained, non-fixed
    parameters; staterror left out as cabinetry does), ``correlation``, ``data_mc_prefit``,
    ``data_mc_postfit``, ``data_mc`` (= post-fit), ``scan`` if ``scan`` (the
    :func:`~sysaware.fit.scan.poi_scan` JSON) is given, ``ranking`` if ``ranking`` (the
    :func:`~sysaware.fit.impacts.merge_ranking` JSON) is given.  With several channels the
    data/MC files stack one panel per channel (a raster image), and per-channel
    files ``data_mc_prefit_<channel>``, ``data_mc_postfit_<channel>``, ``data_mc_<channel>``
    are written too.

    Args:
        workspace: the pyhf workspace the fit was run on (data and model for data/MC).
        fit_json: :func:`~sysaware.fit.mle.fit_results` output.
        out_dir: folder for the figures (created if missing).

    Returns:
        The paths written.

    Raises:
        ValueError: the fit results do not belong to this workspace's model.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, data = model_and_data(workspace)
    if list(model.config.par_names) != list(fit_json["labels"]):
        raise ValueError("fit results' labels do not match the workspace's parameters: "
                         f"{fit_json['labels']} vs {model.config.par_names}")
    fres = to_fit_results(fit_json)
    paths: list[Path] = []

    # pulls: leave out the unconstrained parameters (POI, normfactors, shapefactors)
    unconstrained = [r["label"] for r in _parameter_table(model) if not r["constrained"]]
    shown = [lab for lab, u in zip(fres.labels, fres.uncertainty)
             if lab not in unconstrained and u != 0.0 and not lab.startswith("staterror_")]
    if shown:
        fig = cabinetry.visualize.pulls(fres, exclude=unconstrained, close_figure=False, save_figure=False)
    else:
        fig = _placeholder("no constrained, floating nuisance parameters to pull")
    paths += _save(fig, out, "pulls", formats)

    if np.count_nonzero(np.any(fres.corr_mat != 0.0, axis=0)) > 0:
        fig = cabinetry.visualize.correlation_matrix(fres, close_figure=False, save_figure=False)
    else:
        fig = _placeholder("no floating parameters")
    paths += _save(fig, out, "correlation", formats)

    prefit = cabinetry.model_utils.prediction(model)
    postfit = cabinetry.model_utils.prediction(model, fit_results=fres)
    paths += _data_mc(prefit, data, out, ["data_mc_prefit"], formats)
    paths += _data_mc(postfit, data, out, ["data_mc_postfit", "data_mc"], formats)

    if scan is not None:
        fig = cabinetry.visualize.scan(to_scan_results(scan, fit_json), close_figure=False, save_figure=False)
        paths += _save(fig, out, "scan", formats)
    else:
        log.info("no scan results given: scan figure not written")

    if ranking is not None:
        rres = to_ranking_results(ranking)
        if rres.labels:
            fig = cabinetry.visualize.ranking(rres, close_figure=False, save_figure=False)
        else:
            fig = _placeholder("no nuisance parameters to rank")
        paths += _save(fig, out, "ranking", formats)
    else:
        log.info("no ranking results given: ranking figure not written")
    return paths


def _variations(workspace: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per systematic name: the (channel, sample, nominal, up, down) it affects.

    normsys scales the nominal by hi/lo; histosys replaces it by hi_data/lo_data; a
    sample with both under one name (cabinetry's NormPlusShape) gets their product.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for channel in workspace["channels"]:
        for sample in channel["samples"]:
            nominal = np.asarray(sample["data"], dtype=float)
            per_name: dict[str, dict[str, Any]] = {}
            for mod in sample.get("modifiers", []):
                if mod["type"] not in ("normsys", "histosys"):
                    continue
                entry = per_name.setdefault(mod["name"], {
                    "channel": channel["name"], "sample": sample["name"], "nominal": nominal,
                    "up_shape": nominal, "down_shape": nominal, "up_norm": 1.0, "down_norm": 1.0,
                })
                if mod["type"] == "normsys":
                    entry["up_norm"], entry["down_norm"] = float(mod["data"]["hi"]), float(mod["data"]["lo"])
                else:
                    entry["up_shape"] = np.asarray(mod["data"]["hi_data"], dtype=float)
                    entry["down_shape"] = np.asarray(mod["data"]["lo_data"], dtype=float)
            for name, e in per_name.items():
                out.setdefault(name, []).append({
                    "channel": e["channel"], "sample": e["sample"], "nominal": e["nominal"],
                    "up": e["up_shape"] * e["up_norm"], "down": e["down_shape"] * e["down_norm"],
                })
    return out


def plot_template_variations(
    workspace: dict[str, Any], out_dir: str | Path, *, formats: Formats = ("png",)
) -> list[Path]:
    """One figure per systematic (normsys/histosys name): nominal vs up/down per affected sample.

    Drawn from the workspace itself (``templates_<systematic>.<format>``): a panel per
    (channel, sample) the systematic affects, yields on top and up/nominal, down/nominal
    below.  The workspace has no bin edges, so the x axis is the bin index.  staterror,
    shapesys, lumi, normfactor and shapefactor modifiers have no up/down templates and
    get no figure.

    Returns:
        The paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, entries in sorted(_variations(workspace).items()):
        ncol = min(3, len(entries))
        nrow = -(-len(entries) // ncol)
        fig, axes = plt.subplots(
            2 * nrow, ncol, figsize=(4.5 * ncol, 4.5 * nrow), squeeze=False, sharex="col",
            gridspec_kw={"height_ratios": [3, 1] * nrow}, layout="constrained",
        )
        for k in range(nrow * ncol):
            top, bottom = axes[2 * (k // ncol), k % ncol], axes[2 * (k // ncol) + 1, k % ncol]
            if k >= len(entries):
                top.axis("off")
                bottom.axis("off")
                continue
            e = entries[k]
            edges = np.arange(len(e["nominal"]) + 1, dtype=float)
            mplhep.histplot(e["nominal"], edges, ax=top, color="black", label="nominal")
            mplhep.histplot(e["up"], edges, ax=top, color="C3", linestyle="--", label="up")
            mplhep.histplot(e["down"], edges, ax=top, color="C0", linestyle=":", label="down")
            top.set_title(f"{e['channel']} / {e['sample']}")
            top.set_ylabel("yield")
            top.legend(frameon=False)
            with np.errstate(divide="ignore", invalid="ignore"):
                up_r = np.where(e["nominal"] != 0, e["up"] / e["nominal"], 1.0)
                down_r = np.where(e["nominal"] != 0, e["down"] / e["nominal"], 1.0)
            mplhep.histplot(up_r, edges, ax=bottom, color="C3", linestyle="--", edges=False)
            mplhep.histplot(down_r, edges, ax=bottom, color="C0", linestyle=":", edges=False)
            bottom.axhline(1.0, color="black", linewidth=0.8)
            bottom.set_ylabel("var / nom")
            bottom.set_xlabel("bin")
        fig.suptitle(name)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        paths += _save(fig, out, f"templates_{safe}", formats)
    if not paths:
        log.info("workspace has no normsys/histosys modifiers: no template-variation figures")
    return paths
