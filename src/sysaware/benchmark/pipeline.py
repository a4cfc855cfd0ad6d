"""Stages of the ``inferno_benchmark`` analysis: data, training, evaluation, paper table.

Each function takes the (validated) analysis config and plain arrays or paths, so the
Snakemake rules, the scripts and the tests call the very same code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..seeding import rng_for, torch_generator
from ..train.loop import History, TrainSettings, fit
from ..train.networks import make_mlp
from .analytic import analytic_table
from .evaluate import evaluate_columns
from .losses import bce_loss, inferno_loss
from .mixture import sample_background, sample_signal

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
COLUMNS = ["bm0", "bm1", "bm2", "bm3", "bm4"]


def method_names(cfg: Mapping[str, Any]) -> list[str]:
    """Trained models of the benchmark: ``bce`` and ``inferno_bm<k>`` per benchmark."""
    methods = cfg["methods"]
    names = ["bce"] if methods["bce"]["enabled"] else []
    names += [f"inferno_bm{k}" for k in methods["inferno"]["trained_under"]]
    return names


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
        ps = torch.randperm(xs.shape[0], generator=gen)
        pb = torch.randperm(xb.shape[0], generator=gen)
        for i in range(0, min(len(ps), len(pb)) - half + 1, half):
            yield xs[ps[i : i + half]], xb[pb[i : i + half]]

    return epoch


def train(
    cfg: Mapping[str, Any],
    method: str,
    repeat: int,
    data: Mapping[str, np.ndarray],
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[nn.Sequential, dict[str, Any], History]:
    """Train one model; returns the network, its metadata and the loss history."""
    tcfg = cfg["training"]
    gen = torch_generator(cfg["seed"], "train", method, repeat)
    xs, xb = torch.from_numpy(data["xs_train"]), torch.from_numpy(data["xb_train"])
    vs, vb = torch.from_numpy(data["xs_valid"]), torch.from_numpy(data["xb_valid"])
    both = torch.cat([xs, xb])
    is_bce = method == "bce"
    n_out = 1 if is_bce else int(tcfg["n_bins"])
    net = make_mlp(3, n_out, tcfg["hidden"], tcfg["activation"], both.mean(0), both.std(0))
    temperature = float(tcfg["temperature"])
    if is_bce:

        def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            bs, bb = batch
            y = torch.cat([torch.ones(len(bs)), torch.zeros(len(bb))])
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
    hist = fit(net, _batches(xs, xb, int(tcfg["batch_size"]), gen), loss_fn, valid, settings, progress)
    meta = {
        "n_inputs": 3,
        "n_outputs": n_out,
        "hidden": list(tcfg["hidden"]),
        "activation": tcfg["activation"],
        "method": method,
        "repeat": repeat,
        "best_epoch": hist.best_epoch,
        "best_valid_loss": hist.best_valid,
    }
    return net, meta, hist


def evaluate(cfg: Mapping[str, Any], net: nn.Module, data: Mapping[str, np.ndarray]) -> list[float]:
    """sqrt(var s) per benchmark column on the test split."""
    xs, xb = torch.from_numpy(data["xs_test"]), torch.from_numpy(data["xb_test"])
    return evaluate_columns(net, xs, xb, int(cfg["training"]["n_bins"]))


def _quantiles(rows: list[list[float]]) -> dict[str, list[float]]:
    arr = np.asarray(rows, dtype=float)
    q16, q50, q84 = np.percentile(arr, [16, 50, 84], axis=0)
    return {"median": q50.tolist(), "p16": q16.tolist(), "p84": q84.tolist()}


def paper_table(
    cfg: Mapping[str, Any], results: Mapping[str, list[list[float]]], reference: Mapping[str, Any]
) -> dict[str, Any]:
    """The paper-table JSON from ``results[method] = [columns per repeat]``."""
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
        },
        "settings": {
            "n_train": cfg["benchmark"]["n_train"],
            "n_test": cfg["benchmark"]["n_test"],
            "nuisance_mode": cfg["methods"]["inferno"]["nuisance_mode"],
            **{k: cfg["training"][k] for k in ("n_bins", "temperature", "epochs", "batch_size")},
        },
    }
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
    fig.savefig(path)
    plt.close(fig)


def finite_or_raise(values: list[float], what: str) -> list[float]:
    """Refuse NaN/inf results with a message naming ``what``."""
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{what}: non-finite sqrt(var s) {values}")
    return values
