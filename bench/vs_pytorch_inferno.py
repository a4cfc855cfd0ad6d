"""INFERNO training time per epoch: ours (``sysaware``) vs ``pytorch-inferno`` 0.2.2 (G. Strong).

Both train the paper's problem (de Castro & Dorigo, arXiv:1806.04743) on the *same* events
from :func:`sysaware.benchmark.pipeline.make_data`: 3 -> 100 -> 100 -> 10 ReLU MLP, softmax
temperature 0.1, 2000 events per step, Adam at the config's learning rate, the same number
of epochs, the exact nuisance treatment (background inputs shifted by r and rescaled by lam
inside the likelihood) and the same benchmark's nuisances and constraints.

* ours: the public :func:`~sysaware.train.run.train` (so whatever INFERNO loss is
  current), nuisance_mode ``exact``; epochs timed by its ``progress`` callback;
* pytorch-inferno: its documented paper recipe, ``ModelWrapper(net).fit(..., loss=None,
  cbs=[PaperInferno(...), SaveBest(...)])`` over ``WeightedDataLoader(DataSet(x, y))``
  built from our arrays; epochs timed by a callback at the end of each validation pass.

An epoch is one pass over the training events plus the validation loss (both libraries
validate every epoch and keep the best epoch). Wall-clock seconds per epoch are the median
over epochs 2.. (epoch 1 is the warm-up) of all repetitions; repetitions alternate
ours/theirs (A B B A ...) in this one process so that machine noise hits both. Each trained
model is then scored by our :func:`~sysaware.benchmark.evaluate.evaluate_columns`
(hard-binned summary, sqrt(var s) per benchmark column bm0..bm4) on one independent test sample.
pytorch-inferno's ``DataSet`` builds one tensor per event and collates them per batch; one
pass of its two loaders alone is timed too, so its share of an epoch can be seen.

Needs the ``bench`` extra (see bench/README.md):
    pip install --no-deps pytorch-inferno==0.2.2 "fastcore<1.8" "fastprogress<1.1" seaborn
Run (a few minutes on 2 cores):
    python bench/vs_pytorch_inferno.py [--epochs 10] [--n-train 20000] [--n-test 200000]
        [--threads 1 2] [--reps 2] [--benchmark 4 2] [--paper-init] [--json out.json]
Paper-sized training sample: --n-train 100000 (events per class).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sysaware.benchmark.analytic import BENCHMARKS, analytic_table
from sysaware.benchmark.evaluate import evaluate_columns
from sysaware.benchmark.pipeline import make_data
from sysaware.benchmark.training import BenchmarkData
from sysaware.config import load_config
from sysaware.seeding import derive_seed, torch_generator
from sysaware.train.networks import make_mlp
from sysaware.train.run import train

try:
    import fastprogress.fastprogress
    from pytorch_inferno.callback import AbsCallback, SaveBest
    from pytorch_inferno.data import DataPair, DataSet, WeightedDataLoader
    from pytorch_inferno.inferno import PaperInferno, VariableSoftmax
    from pytorch_inferno.model_wrapper import ModelWrapper
    from pytorch_inferno.utils import init_net
    from torch.distributions import Normal
except ImportError as err:  # pragma: no cover - depends on the optional extra
    raise SystemExit(
        f"{err}\nthis bench needs pytorch-inferno; install it without touching torch:\n"
        '  pip install --no-deps pytorch-inferno==0.2.2 "fastcore<1.8" "fastprogress<1.1" seaborn'
    ) from err

fastprogress.fastprogress.NO_BAR = True  # no progress bars in the timed loop
ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def ours(cfg: dict[str, Any], bm: int, rep: int, data: dict[str, np.ndarray]) -> tuple[list[float], nn.Module]:
    """Train with :func:`train`; wall-clock seconds of each epoch and the trained network."""
    stamps = [time.perf_counter()]
    net, _, _ = train(cfg, BenchmarkData(cfg, data), f"inferno_bm{bm}", rep, lambda *_: stamps.append(time.perf_counter()))
    return np.diff(stamps).tolist(), net


class _EpochClock(AbsCallback):
    """Time stamp at the end of each epoch (after its validation pass)."""

    def __init__(self, stamps: list[float]):
        self.stamps = stamps

    def on_epoch_end(self) -> None:  # noqa: D102
        if self.wrapper.state == "valid":
            self.stamps.append(time.perf_counter())


def paper_inferno_callback(bm: int) -> PaperInferno:
    """pytorch-inferno's exact-nuisance callback configured like our benchmark ``bm``.

    Its lam nuisance scales x2 by (3 + alpha) / 3, i.e. alpha = -(lam - 3) to first order:
    the Asimov Fisher (first derivatives at the nominal point), hence var(s), is the same.
    """
    b = BENCHMARKS[bm]
    shapes = [p for p in ("r", "lam") if p in b.free]
    aux = [Normal(0.0, b.sigma[p]) if b.sigma.get(p) else None for p in shapes]
    b_sigma = b.sigma.get("b") if "b" in b.free else None
    return PaperInferno(
        float_r="r" in b.free,
        float_l="lam" in b.free,
        shape_aux=aux if any(a is not None for a in aux) else None,
        b_norm_aux=[Normal(0.0, b_sigma)] if b_sigma else None,
        nonaux_b_norm="b" in b.free and not b_sigma,
        b_true=1000,
        mu_true=50,
    )


def theirs_net(cfg: dict[str, Any], bm: int, rep: int, data: dict[str, np.ndarray], paper_init: bool) -> nn.Sequential:
    """Same MLP as ours + pytorch-inferno's VariableSoftmax; ``paper_init``: their recipe instead."""
    t = cfg["training"]
    if paper_init:  # their notebooks: raw inputs, Kaiming-normal weights, zero biases
        torch.manual_seed(derive_seed(cfg["seed"], "pytorch-inferno", bm, rep))
        sizes = [3, *t["hidden"]]
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        net = nn.Sequential(*layers, nn.Linear(sizes[-1], t["n_bins"]), VariableSoftmax(t["temperature"]))
        init_net(net)
        return net
    # ours: the standardising layer and the initial weights that train() draws (same seed)
    torch_generator(cfg["seed"], "train", f"inferno_bm{bm}", rep)
    both = torch.from_numpy(np.concatenate([data["xs_train"], data["xb_train"]]))
    mlp = make_mlp(3, t["n_bins"], t["hidden"], t["activation"], both.mean(0), both.std(0))
    return nn.Sequential(*mlp, VariableSoftmax(t["temperature"]))


def _loader(xs: np.ndarray, xb: np.ndarray, batch: int, train_split: bool) -> WeightedDataLoader:
    """pytorch-inferno's loader as in ``get_paper_data``: classes mixed and shuffled."""
    x = np.concatenate([xs, xb])
    y = np.concatenate([np.ones(len(xs)), np.zeros(len(xb))])[:, None].astype(np.float32)
    if train_split:
        return WeightedDataLoader(DataSet(x, y), batch_size=batch, shuffle=True, drop_last=True)
    return WeightedDataLoader(DataSet(x, y), batch_size=2 * batch, shuffle=True)


def theirs(
    cfg: dict[str, Any], bm: int, rep: int, data: dict[str, np.ndarray], paper_init: bool
) -> tuple[list[float], float, nn.Module]:
    """Train with pytorch-inferno; seconds per epoch, seconds of one pass of its loaders alone, net."""
    t = cfg["training"]
    net = theirs_net(cfg, bm, rep, data, paper_init)
    torch.manual_seed(derive_seed(cfg["seed"], "pytorch-inferno-shuffle", bm, rep))
    trn = _loader(data["xs_train"], data["xb_train"], t["batch_size"], True)
    val = _loader(data["xs_valid"], data["xb_valid"], t["batch_size"], False)
    t0 = time.perf_counter()
    for _ in trn:
        pass
    for _ in val:
        pass
    t_load = time.perf_counter() - t0
    model = ModelWrapper(net, device=CPU)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        stamps = [time.perf_counter()]
        model.fit(
            t["epochs"],
            data=DataPair(trn, val),
            opt=partial(torch.optim.Adam, lr=t["lr"]),
            loss=None,
            cbs=[paper_inferno_callback(bm), SaveBest(f"{tmp}/best.h5"), _EpochClock(stamps)],
        )
    model.model.eval()
    return np.diff(stamps).tolist(), t_load, model.model


def _median_after_warmup(runs: list[list[float]]) -> float:
    return statistics.median(x for r in runs for x in r[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config" / "inferno_benchmark_quick.yaml"), help="seed and training settings")
    ap.add_argument("--epochs", type=int, default=10, help="fixed number of epochs (no early stopping)")
    ap.add_argument("--n-train", type=int, default=20_000, help="training events per class (paper: 100000)")
    ap.add_argument("--n-test", type=int, default=200_000, help="test events per class for sqrt(var s)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1], help="torch thread counts to time")
    ap.add_argument("--reps", type=int, default=2, help="trainings per library and setting (alternated)")
    ap.add_argument("--benchmark", type=int, nargs="+", default=[4, 2], choices=range(5), help="trained under bm k")
    ap.add_argument("--paper-init", action="store_true",
                    help="pytorch-inferno net as in its notebooks (raw inputs, init_net) instead of ours")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args()
    if a.epochs < 2:
        ap.error("--epochs must be >= 2 (the first epoch is the warm-up)")

    cfg = copy.deepcopy(load_config(a.config))
    cfg["benchmark"].update(n_train=a.n_train, n_valid=a.n_train // 2, n_test=a.n_test)
    cfg["training"].update(epochs=a.epochs, patience=a.epochs + 1, device="cpu")
    cfg["methods"]["inferno"]["nuisance_mode"] = "exact"  # PaperInferno is the exact variant
    t = cfg["training"]
    data = make_data(cfg)
    xs_test, xb_test = torch.from_numpy(data["xs_test"]), torch.from_numpy(data["xb_test"])

    timing: list[dict[str, Any]] = []
    scores: dict[str, list[list[float]]] = {}
    for bm in a.benchmark:
        for threads in a.threads:
            torch.set_num_threads(threads)
            mine: list[list[float]] = []
            other: list[list[float]] = []
            loads: list[float] = []
            for rep in range(a.reps):
                for who in (("ours", "theirs") if rep % 2 == 0 else ("theirs", "ours")):
                    if who == "ours":
                        sec, net = ours(cfg, bm, rep, data)
                        mine.append(sec)
                    else:
                        sec, t_load, net = theirs(cfg, bm, rep, data, a.paper_init)
                        other.append(sec)
                        loads.append(t_load)
                    if threads == a.threads[0]:  # other thread counts retrain the same seeds
                        key = f"{'ours' if who == 'ours' else 'pytorch-inferno'} bm{bm}"
                        scores.setdefault(key, []).append(evaluate_columns(net, xs_test, xb_test, t["n_bins"]))
            m, o = _median_after_warmup(mine), _median_after_warmup(other)
            timing.append({"benchmark": bm, "threads": threads, "ours_s": m, "pytorch_inferno_s": o,
                           "pytorch_inferno_loader_s": statistics.median(loads), "ratio": o / m,
                           "ours_epochs_s": mine, "pytorch_inferno_epochs_s": other})

    steps = a.n_train // (t["batch_size"] // 2)
    print(f"\nINFERNO training, {a.n_train} + {a.n_train} training events ({steps} steps of {t['batch_size']}), "
          f"{a.n_train // 2} + {a.n_train // 2} validation, {a.epochs} epochs, {a.reps} trainings per library, "
          f"{t['hidden']} ReLU -> {t['n_bins']} bins, T = {t['temperature']}, Adam lr {t['lr']}, "
          f"torch {torch.__version__}, pytorch-inferno net: {'its notebook recipe' if a.paper_init else 'same as ours'}\n")
    print("| trained under | threads | ours s/epoch | pytorch-inferno s/epoch | its data loader alone s/epoch "
          "| pytorch-inferno / ours | (pytorch-inferno - its loader) / ours |")
    print("|---|---|---|---|---|---|---|")
    for r in timing:
        rest = (r["pytorch_inferno_s"] - r["pytorch_inferno_loader_s"]) / r["ours_s"]
        print(f"| bm{r['benchmark']} | {r['threads']} | {r['ours_s']:.3f} | {r['pytorch_inferno_s']:.3f} "
              f"| {r['pytorch_inferno_loader_s']:.3f} | {r['ratio']:.2f} | {rest:.2f} |")
    analytic = analytic_table(tuple(cfg["benchmark"]["signal_mean"]))
    print(f"\nsqrt(var s) on {a.n_test} + {a.n_test} test events by our evaluate_columns, after {a.epochs} epochs "
          f"(best validation epoch kept by both), mean (min-max) over {a.reps} training(s) with different seeds:\n")
    print("| model | " + " | ".join(f"bm{k}" for k in range(5)) + " |")
    print("|---" * 6 + "|")
    for key, rows in scores.items():
        arr = np.asarray(rows)
        cells = (f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in zip(arr.mean(0), arr.min(0), arr.max(0)))
        print(f"| {key} | " + " | ".join(cells) + " |")
    print("| analytic likelihood | " + " | ".join(f"{v:.2f}" for v in analytic) + " |")
    if a.json:
        out = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
               "torch": torch.__version__, "timing": timing, "sqrt_var_s": scores, "analytic": analytic}
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
