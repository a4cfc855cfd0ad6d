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

from . import classifier_output as co  # noqa: E402


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
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(png.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png)
    return {"n_signal": co.N_SIGNAL, "n_background": co.N_BACKGROUND, "b_reg": co.B_REG, "alphas": rows}
