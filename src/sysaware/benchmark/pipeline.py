"""Stages of the ``inferno_benchmark`` analysis: data, training, evaluation, paper table.

Each function takes the (validated) analysis config and plain arrays or paths, so the
Snakemake rules, the scripts and the tests call the very same code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import save_figure
from ..seeding import rng_for, torch_generator
from ..train.checkpoint import training_checkpoint
from ..train.loop import History, TrainSettings, fit
from ..train.networks import make_mlp, resolve_device
from .analytic import analytic_table, sqrt_var_s
from .evaluate import binned_jacobian, fisher_from_jacobian
from .losses import bce_loss, inferno_loss
from .mixture import sample_background, sample_signal
from .optimal import OptimalClassifier

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
COLUMNS = ["bm0", "bm1", "bm2", "bm3", "bm4"]


def make_data(cfg: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Signal and nominal-background events per split (``xs_train``, ``xb_train``, ...)."""
    bm = cfg["benchmark"]
    mean = tuple(bm["signal_mean"])
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        n = int(bm[f"n_{split}"])
        rng = rng_for(cfg["seed"], "data", split)
        out[f"xs_{split}"] = sample_signal(n, rng, mean).astype(np.float32)
        out[f"xb_{split}"] = sample_background(n, rng).astype(np.float32)
    return out


def _batches(
    xs: torch.Tensor, xb: torch.Tensor, batch: int, gen: torch.Generator
) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    half = max(batch // 2, 1)

    def epoch(_: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # permutations drawn on the CPU generator, so the batches do not depend on the device
        ps = torch.randperm(xs.shape[0], generator=gen).to(xs.device)
        pb = torch.randperm(xb.shape[0], generator=gen).to(xb.device)
        for i in range(0, min(len(ps), len(pb)) - half + 1, half):
            yield xs[ps[i : i + half]], xb[pb[i : i + half]]

    return epoch


def train(
    cfg: Mapping[str, Any],
    method: str,
    repeat: int,
    data: Mapping[str, np.ndarray],
    progress: Callable[[int, float, float], None] | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[nn.Sequential, dict[str, Any], History]:
    """Train one model; returns the network, its metadata and the loss history.

    With ``checkpoint`` (a file path) the training saves its state after every epoch and
    resumes from a checkpoint of the same config and model left by a killed run.
    """
    tcfg = cfg["training"]
    gen = torch_generator(cfg["seed"], "train", method, repeat)
    device = resolve_device(tcfg.get("device", "auto"))
    xs, xb = (torch.from_numpy(data[k]).to(device) for k in ("xs_train", "xb_train"))
    vs, vb = (torch.from_numpy(data[k]).to(device) for k in ("xs_valid", "xb_valid"))
    both = torch.cat([xs, xb])
    is_bce = method == "bce"
    n_out = 1 if is_bce else int(tcfg["n_bins"])
    # initial weights drawn on the CPU (seeded), then moved: same start on every device
    net = make_mlp(3, n_out, tcfg["hidden"], tcfg["activation"], both.mean(0).cpu(), both.std(0).cpu())
    net.to(device)
    temperature = float(tcfg["temperature"])
    if is_bce:

        def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            bs, bb = batch
            y = torch.cat([torch.ones(len(bs), device=bs.device), torch.zeros(len(bb), device=bb.device)])
            return bce_loss(net, torch.cat([bs, bb]), y)

        def valid(net: nn.Module) -> float:
            return loss_fn(net, (vs, vb)).item()

    else:
        k = int(method.removeprefix("inferno_bm"))
        mode = cfg["methods"]["inferno"]["nuisance_mode"]

        def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return inferno_loss(net, batch[0], batch[1], k, temperature, mode)

        def valid(net: nn.Module) -> float:
            return inferno_loss(net, vs, vb, k, temperature, mode).item()

    settings = TrainSettings(
        epochs=int(tcfg["epochs"]),
        lr=float(tcfg["lr"]),
        optimizer=tcfg["optimizer"],
        patience=int(tcfg["patience"]),
    )
    ckpt = training_checkpoint(checkpoint, cfg, ("benchmark", method, repeat), gen)
    hist = fit(net, _batches(xs, xb, int(tcfg["batch_size"]), gen), loss_fn, valid, settings, progress, ckpt)
    meta = {
        "n_inputs": 3,
        "n_outputs": n_out,
        "hidden": list(tcfg["hidden"]),
        "activation": tcfg["activation"],
        "method": method,
        "repeat": repeat,
        "best_epoch": hist.best_epoch,
        "best_valid_loss": hist.best_valid,
        "device": str(device),
    }
    return net, meta, hist


def evaluate(cfg: Mapping[str, Any], net: nn.Module, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """sqrt(var s) per benchmark column on the test split, and its pyhf/cabinetry cross-check.

    ``sqrt_var_s``: from the binned Asimov Fisher information (the table's numbers);
    ``pyhf``: per column the HESSE and MINOS results of a cabinetry fit of the same
    templates (:mod:`~sysaware.benchmark.pyhf_check`).
    """
    from .pyhf_check import fit_sqrt_var_s  # cabinetry only where evaluating (not on GPU nodes)

    nu, jac = _test_jacobian(cfg, net, data)
    info = fisher_from_jacobian(nu, jac)
    return {
        "sqrt_var_s": [sqrt_var_s(info, k) for k in range(len(COLUMNS))],
        "pyhf": [fit_sqrt_var_s(nu, jac, k) for k in range(len(COLUMNS))],
    }


def _test_jacobian(cfg: Mapping[str, Any], net: nn.Module, data: Mapping[str, np.ndarray]):
    xs, xb = torch.from_numpy(data["xs_test"]), torch.from_numpy(data["xb_test"])
    return binned_jacobian(net, xs, xb, int(cfg["training"]["n_bins"]))


def binned_sqrt_var_s(cfg: Mapping[str, Any], net: nn.Module, data: Mapping[str, np.ndarray]) -> list[float]:
    """sqrt(var s) per benchmark column on the test split (the paper table's numbers, no pyhf)."""
    info = fisher_from_jacobian(*_test_jacobian(cfg, net, data))
    return [sqrt_var_s(info, k) for k in range(len(COLUMNS))]


def optimal_classifier_row(cfg: Mapping[str, Any], data: Mapping[str, np.ndarray]) -> list[float]:
    """sqrt(var s) per column of the exact density-ratio classifier, binned as BCE is."""
    net = OptimalClassifier(tuple(cfg["benchmark"]["signal_mean"]))
    return evaluate(cfg, net, data)["sqrt_var_s"]


def crosscheck_summary(evals: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Largest relative difference pyhf HESSE / ours - 1 over all evaluations and columns."""
    rel = [p["hesse"] / o - 1 for ev in evals for o, p in zip(ev["sqrt_var_s"], ev["pyhf"])]
    return {"max_abs_rel_diff_hesse": max(abs(r) for r in rel), "n_fits": len(rel)}


def _quantiles(rows: list[list[float]]) -> dict[str, list[float]]:
    arr = np.asarray(rows, dtype=float)
    q16, q50, q84 = np.percentile(arr, [16, 50, 84], axis=0)
    return {"median": q50.tolist(), "p16": q16.tolist(), "p84": q84.tolist()}


def paper_table(
    cfg: Mapping[str, Any],
    results: Mapping[str, list[list[float]]],
    reference: Mapping[str, Any],
    crosscheck: Mapping[str, Any] | None = None,
    optimal: list[float] | None = None,
) -> dict[str, Any]:
    """The paper-table JSON from ``results[method] = [columns per repeat]``.

    ``crosscheck`` (from :func:`crosscheck_summary`) is stored as ``pyhf_crosscheck``;
    ``optimal`` (the Bayes-optimal classifier's row, :func:`optimal_classifier_row`) as
    ``optimal_classifier``.
    """
    paper = reference["sqrt_variance_of_s"]
    analytic = analytic_table(tuple(cfg["benchmark"]["signal_mean"]))
    spread = {m: _quantiles(rows) for m, rows in results.items()}
    inferno = {m: spread[m]["median"] for m in results if m.startswith("inferno_bm")}
    table: dict[str, Any] = {
        "columns": COLUMNS,
        "signal_mean": list(cfg["benchmark"]["signal_mean"]),
        "analytic": analytic,
        "bce": spread["bce"]["median"] if "bce" in spread else None,
        "inferno_trained_under": {m.removeprefix("inferno_"): v for m, v in inferno.items()},
        "spread": spread,
        "n_trainings": {m: len(rows) for m, rows in results.items()},
        "paper": {
            "nn": paper["NN classifier (cross-entropy)"],
            "inferno": {f"bm{k}": paper[f"INFERNO trained under bm{k}"] for k in range(5)},
            "analytic": paper["Analytical likelihood"],
            "optimal_classifier": paper["Optimal classifier"],
        },
        "settings": {
            "n_train": cfg["benchmark"]["n_train"],
            "n_test": cfg["benchmark"]["n_test"],
            "nuisance_mode": cfg["methods"]["inferno"]["nuisance_mode"],
            **{k: cfg["training"][k] for k in ("n_bins", "temperature", "epochs", "batch_size")},
        },
    }
    if crosscheck is not None:
        table["pyhf_crosscheck"] = dict(crosscheck)
    if optimal is not None:
        table["optimal_classifier"] = list(optimal)
    if inferno:
        best = min(inferno, key=lambda m: sum(inferno[m]))
        table["inferno_best"] = {"trained_under": best.removeprefix("inferno_"), "row": inferno[best]}
        table["inferno_best_over_analytic"] = [a / b for a, b in zip(inferno[best], analytic)]
    if table["bce"] is not None:
        table["bce_over_paper_nn"] = [a / b for a, b in zip(table["bce"], paper["NN classifier (cross-entropy)"])]
    return table


def table_markdown(table: Mapping[str, Any]) -> str:
    """Markdown rendering of :func:`paper_table` (ours, paper, analytic)."""

    def row(name: str, vals: list[float] | None) -> str:
        if vals is None:
            return ""
        return f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |\n"

    s = "| sqrt(var s) | " + " | ".join(table["columns"]) + " |\n"
    s += "|---" * (len(table["columns"]) + 1) + "|\n"
    s += row("BCE (ours, median)", table["bce"])
    s += row("NN, paper", table["paper"]["nn"])
    for k, vals in table["inferno_trained_under"].items():
        s += row(f"INFERNO {k} (ours, median)", vals)
        s += row(f"INFERNO {k}, paper", table["paper"]["inferno"][k])
    s += row("optimal classifier (ours)", table.get("optimal_classifier"))
    s += row("optimal classifier, paper", table["paper"]["optimal_classifier"])
    s += row("analytic (ours)", table["analytic"])
    s += row("analytic, paper", table["paper"]["analytic"])
    n = ", ".join(f"{m}: {c}" for m, c in table["n_trainings"].items())
    st = table["settings"]
    s += (
        f"\nTrainings per model: {n}. Training events per class {st['n_train']}, test events per class "
        f"{st['n_test']}, {st['n_bins']} bins, temperature {st['temperature']}, "
        f"nuisances in the INFERNO loss: {st['nuisance_mode']}.\n"
    )
    return s


def plot_table(table: Mapping[str, Any], path: str) -> None:
    """Figure: ours vs paper vs analytic per benchmark column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    fig, ax = plt.subplots(figsize=(9, 6))
    x = np.arange(len(table["columns"]))
    ax.plot(x, table["analytic"], "k-", label="analytic likelihood (ours)")
    ax.plot(x, table["paper"]["analytic"], "k:", label="analytic (paper)")
    if table.get("optimal_classifier") is not None:
        ax.plot(x, table["optimal_classifier"], "--", color="tab:cyan", label="optimal classifier (ours)")
        ax.plot(x, table["paper"]["optimal_classifier"], "+", color="tab:cyan", label="optimal classifier (paper)")
    if table["bce"] is not None:
        sp = table["spread"]["bce"]
        ax.errorbar(x - 0.1, sp["median"], yerr=[np.subtract(sp["median"], sp["p16"]), np.subtract(sp["p84"], sp["median"])], fmt="o", color="tab:blue", label="BCE (ours)")
        ax.plot(x - 0.1, table["paper"]["nn"], "x", color="tab:blue", label="NN (paper)")
    for i, (k, _) in enumerate(table["inferno_trained_under"].items()):
        sp = table["spread"][f"inferno_{k}"]
        off = 0.05 + 0.1 * i
        ax.errorbar(x + off, sp["median"], yerr=[np.subtract(sp["median"], sp["p16"]), np.subtract(sp["p84"], sp["median"])], fmt="s", label=f"INFERNO {k} (ours)")
        ax.plot(x + off, table["paper"]["inferno"][k], "x", color="grey",
                label=f"INFERNO {k} (paper)")
    ax.set_xticks(x, table["columns"])
    ax.set_ylabel(r"$\sqrt{\mathrm{var}(s)}$")
    ax.set_xlabel("benchmark")
    ax.legend(fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def finite_or_raise(values: list[float], what: str) -> list[float]:
    """Refuse NaN/inf results with a message naming ``what``."""
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{what}: non-finite sqrt(var s) {values}")
    return values
