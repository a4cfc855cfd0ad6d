"""Figures of the seed talks' toys (numbers from their modules, drawn with mplhep)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from ..io import save_figure  # noqa: E402
from . import classifier_output as co  # noqa: E402


def _save(fig: Any, png: str | Path) -> None:
    """Write ``fig`` to ``png`` through a temporary file (no half-written figure) and close it."""
    save_figure(fig, png, dpi=100)
    plt.close(fig)


def classifier_output_toy(alphas: Sequence[float], png: str | Path, n_thresholds: int = 501) -> dict[str, Any]:
    """ROC and AMS versus threshold of the analytic toy for each alpha; writes ``png``, returns the numbers.

    Numbers per alpha: the AUC (closed form), the best threshold and its AMS.
    """
    t = np.linspace(0.0, 1.0, n_thresholds)[:-1]  # at t = 1 nothing is selected
    plt.style.use(mplhep.style.ROOT)
    fig, (ax_roc, ax_ams) = plt.subplots(1, 2, figsize=(16, 7))
    rows = []
    for alpha in alphas:
        eps_s, eps_b = co.signal_efficiency(t), co.background_efficiency(t, alpha)
        curve = co.ams_curve(t, alpha)
        best = int(np.argmax(curve))
        auc = co.roc_auc(alpha)
        rows.append({"alpha": float(alpha), "auc": auc, "best_threshold": float(t[best]), "best_ams": float(curve[best])})
        ax_roc.plot(eps_b, eps_s, label=f"alpha = {alpha:g} (AUC {auc:.3f})")
        ax_ams.plot(t, curve, label=f"alpha = {alpha:g}")
        ax_ams.plot([t[best]], [curve[best]], "o", color=ax_ams.lines[-1].get_color())
    ax_roc.plot([0, 1], [0, 1], ":", color="grey")
    ax_roc.set_xlabel("background efficiency")
    ax_roc.set_ylabel("signal efficiency")
    ax_roc.legend(fontsize=14)
    ax_ams.set_xlabel("threshold t (select x > t)")
    ax_ams.set_ylabel("AMS")
    ax_ams.legend(fontsize=14)
    fig.suptitle(r"$S(x) = e^x/(e-1)$, $B(x) = \alpha e^{-\alpha x}/(1-e^{-\alpha})$", fontsize=16)
    fig.tight_layout()
    _save(fig, png)
    return {"n_signal": co.N_SIGNAL, "n_background": co.N_BACKGROUND, "b_reg": co.B_REG, "alphas": rows}


def pivot_toy(seed: int, png: str | Path, lam: float = 10.0) -> dict[str, Any]:
    """f(X) of signal at z = -1, 0, +1 without (lambda = 0) and with the adversary; writes ``png``.

    Returns the KS distance between z = -1 and z = +1 and the mean f(X) per z for each training.
    """
    from .pivot import PivotSettings, ks_distance, outputs_at, train_pivot

    plt.style.use(mplhep.style.ROOT)
    fig, axes = plt.subplots(1, 2, figsize=(16, 7), sharey=True)
    numbers: dict[str, Any] = {"seed": seed, "lambda": lam}
    bins = np.linspace(0.0, 1.0, 41)
    for ax, (label, value) in zip(axes, (("plain", 0.0), ("pivot", lam))):
        f = train_pivot(seed, PivotSettings(lam=value))
        out = {z: outputs_at(f, seed, z) for z in (-1.0, 0.0, 1.0)}
        for z, values in out.items():
            ax.hist(values, bins=bins, histtype="step", density=True, linewidth=2, label=f"Z = {z:+g}")
        ks = ks_distance(out[-1.0], out[1.0])
        numbers[label] = {"lambda": value, "ks_z-1_z+1": ks, "mean_f": {f"{z:+g}": float(v.mean()) for z, v in out.items()}}
        ax.set_title(f"lambda = {value:g}: KS(Z=-1, Z=+1) = {ks:.3f}", fontsize=16)
        ax.set_xlabel("f(X), signal")
        ax.legend(fontsize=14)
    axes[0].set_ylabel("density")
    fig.tight_layout()
    _save(fig, png)
    return numbers
