"""Cross-check of the benchmark evaluation with a pyhf model fitted by cabinetry (Minuit).

The hard-binned templates of :func:`~sysaware.benchmark.evaluate.binned_jacobian` become
a HistFactory workspace: signal ``s * h_s`` with the POI ``mu`` (s = 50 mu), background
``b * h_b`` with one linear (``code0``) histosys per free nuisance whose +-1 sigma templates
are ``nu_b +- sigma * d nu / d p``.  Linear interpolation makes d nu / d alpha at alpha = 0
equal to ``sigma * d nu / d p`` exactly, so the Asimov Hessian pyhf and Minuit compute is
the one of :func:`~sysaware.benchmark.analytic.sqrt_var_s`, reached independently:
pyhf builds the likelihood, Minuit's HESSE differentiates it numerically and MINOS
gives the profile-likelihood interval.

HistFactory has no unconstrained nuisance: the free r and lam of benchmarks 1 and 2 get a
Gaussian constraint ``WIDE`` times wider than benchmark 3's, which lowers sqrt(var s) by
at most about 1e-5 relative (measured on trained summaries; the HESSE agreement is ~1e-5 too).
"""

from __future__ import annotations

import logging
from typing import Any

import cabinetry
import numpy as np

from ..stats import ModelSpec, Templates
from ..stats.pyhf_export import to_pyhf_model, to_workspace_spec
from .analytic import BENCHMARKS
from .model import B_SIGMA, NOMINAL, VARIATION

WIDE = 100.0
# Minuit maps bounded parameters through a sine; HESSE errors are then only approximately
# transformed back (a 0.2% bias on mu in [0, 10] here), so mu gets bounds far from its error.
MU_BOUNDS = (-50.0, 50.0)
_SIGMA_UNCONSTRAINED = {p: WIDE * v for p, v in VARIATION.items()}


def _sigma(benchmark: int, param: str) -> float:
    sig = BENCHMARKS[benchmark].sigma.get(param)
    if param == "b":
        return B_SIGMA if sig is None else sig
    return _SIGMA_UNCONSTRAINED[param] if sig is None else sig


def check_model(nu: np.ndarray, jac: np.ndarray, benchmark: int) -> tuple[ModelSpec, Templates[np.ndarray]]:
    """The cross-check's HistFactory model (linear histosys per free nuisance) and its templates.

    Bins with no expected events are dropped (as the evaluation does).  Each nuisance's
    bounds keep every bin's expectation positive (Minuit may step anywhere inside them).
    """
    keep = nu > 0
    jac = jac[keep]
    bkg = jac[:, 3] * NOMINAL["b"]
    mods: list[dict[str, Any]] = [
        {"name": "mu", "type": "normfactor", "samples": ["sig"], "bounds": list(MU_BOUNDS)}
    ]
    up: dict[str, dict[str, np.ndarray]] = {}
    down: dict[str, dict[str, np.ndarray]] = {}
    for i, p in ((1, "r"), (2, "lam"), (3, "b")):
        if p not in BENCHMARKS[benchmark].free:
            continue
        delta = _sigma(benchmark, p) * jac[:, i]
        reach = min(0.5 * float(np.min(bkg / np.maximum(np.abs(delta), 1e-300))), 5.0)
        mods.append({"name": p, "type": "histosys", "samples": ["bkg"], "bounds": [-reach, reach]})
        up[p], down[p] = {"bkg": bkg + delta}, {"bkg": bkg - delta}
    spec = ModelSpec.from_config(
        {
            "channel": "summary",
            "poi": "mu",
            "samples": [{"name": "sig"}, {"name": "bkg"}],
            "modifiers": mods,
            "interpolation": {"normsys": "code1", "histosys": "code0"},
        }
    )
    return spec, Templates(nominal={"sig": jac[:, 0] * NOMINAL["s"], "bkg": bkg}, up=up, down=down)


def workspace(nu: np.ndarray, jac: np.ndarray, benchmark: int) -> dict[str, Any]:
    """pyhf workspace of benchmark ``benchmark`` from expected counts and d nu / d(s, r, lam, b)."""
    return to_workspace_spec(*check_model(nu, jac, benchmark))


def fit_sqrt_var_s(nu: np.ndarray, jac: np.ndarray, benchmark: int, minos: bool = True) -> dict[str, Any]:
    """sqrt(var s) of benchmark ``benchmark`` from a cabinetry fit to the Asimov dataset.

    The fit starts at the Asimov minimum, so Minuit may print "No improvement in line
    search" to stderr: harmless (starting elsewhere leaves mu ~4e-4 off its true minimum
    at the default tolerance and so biases HESSE as much).

    Returns ``hesse`` (50 x the HESSE error of mu) and, with ``minos``, ``minos``
    (50 x the MINOS (down, up) errors) and ``bestfit_mu`` (1 for an Asimov fit that converged).
    """
    model = to_pyhf_model(*check_model(nu, jac, benchmark))
    data = model.expected_data(model.config.suggested_init())
    level = logging.getLogger("cabinetry").level
    logging.getLogger("cabinetry").setLevel(logging.WARNING)
    try:
        res = cabinetry.fit.fit(model, data, minos=["mu"] if minos else None)
    finally:
        logging.getLogger("cabinetry").setLevel(level)
    i = res.labels.index("mu")
    out: dict[str, Any] = {"hesse": NOMINAL["s"] * float(res.uncertainty[i]), "bestfit_mu": float(res.bestfit[i])}
    if minos:
        lo, hi = res.minos_uncertainty["mu"]
        out["minos"] = [NOMINAL["s"] * float(lo), NOMINAL["s"] * float(hi)]
    return out
