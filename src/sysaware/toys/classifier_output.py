"""The analytic classifier-output toy: ROC and AMS versus threshold in closed form.

A classifier output x in [0, 1] has the densities

    S(x) = e^x / (e - 1),        B(x) = alpha e^(-alpha x) / (1 - e^(-alpha)),

so a cut x > t keeps the fractions

    eps_S(t) = (e - e^t) / (e - 1),        eps_B(t) = (e^(-alpha t) - e^(-alpha)) / (1 - e^(-alpha)).

The larger alpha, the more the background piles up at 0 and the better the separation.  The
approximate median significance of the selected counts s = N_s eps_S, b = N_b eps_B is the
HiggsML challenge's AMS = sqrt(2 ((s + b + b_r) ln(1 + s / (b + b_r)) - s)), with the
regularisation b_r = 10 of the challenge (0 gives the plain Asimov significance).
"""

from __future__ import annotations

import numpy as np

#: expected signal and background before the cut (HiggsML-like orders of magnitude; configurable)
N_SIGNAL = 700.0
N_BACKGROUND = 4.1e5
B_REG = 10.0


def signal_density(x: np.ndarray) -> np.ndarray:
    """S(x) = e^x / (e - 1) on [0, 1]."""
    x = np.asarray(x, dtype=float)
    return np.exp(x) / (np.e - 1.0)


def background_density(x: np.ndarray, alpha: float) -> np.ndarray:
    """B(x) = alpha e^(-alpha x) / (1 - e^(-alpha)) on [0, 1]."""
    _check_alpha(alpha)
    x = np.asarray(x, dtype=float)
    return alpha * np.exp(-alpha * x) / (1.0 - np.exp(-alpha))


def signal_efficiency(t: np.ndarray) -> np.ndarray:
    """Fraction of signal with x > t."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    return (np.e - np.exp(t)) / (np.e - 1.0)


def background_efficiency(t: np.ndarray, alpha: float) -> np.ndarray:
    """Fraction of background with x > t."""
    _check_alpha(alpha)
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    return (np.exp(-alpha * t) - np.exp(-alpha)) / (1.0 - np.exp(-alpha))


def ams(s: np.ndarray, b: np.ndarray, b_reg: float = B_REG) -> np.ndarray:
    """HiggsML approximate median significance of ``s`` signal on ``b`` background events."""
    s, b = np.asarray(s, dtype=float), np.asarray(b, dtype=float) + b_reg
    if np.any(b <= 0):
        raise ValueError("ams: background plus regularisation must be positive")
    return np.sqrt(np.maximum(2.0 * ((s + b) * np.log1p(s / b) - s), 0.0))


def ams_curve(t: np.ndarray, alpha: float, n_signal: float = N_SIGNAL, n_background: float = N_BACKGROUND,
              b_reg: float = B_REG) -> np.ndarray:
    """AMS of the cut x > t for each threshold ``t``."""
    return ams(n_signal * signal_efficiency(t), n_background * background_efficiency(t, alpha), b_reg)


def roc_auc(alpha: float) -> float:
    """Area under the ROC (eps_B, eps_S): P(x_signal > x_background), in closed form.

    AUC = int_0^1 S(x) (1 - eps_B(x)) dx = 1 - int_0^1 S(x) eps_B(x) dx, and
    int_0^1 e^x e^(-alpha x) dx = (e^(1 - alpha) - 1) / (1 - alpha) (the limit 1 at alpha = 1).
    """
    _check_alpha(alpha)
    k = 1.0 if np.isclose(alpha, 1.0) else (np.exp(1.0 - alpha) - 1.0) / (1.0 - alpha)
    overlap = (k - np.exp(-alpha) * (np.e - 1.0)) / ((np.e - 1.0) * (1.0 - np.exp(-alpha)))
    return float(1.0 - overlap)


def _check_alpha(alpha: float) -> None:
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
