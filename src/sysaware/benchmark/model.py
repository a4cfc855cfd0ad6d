"""The benchmark's parameters and the HistFactory model of its final fit, without torch.

Shared by the losses (:mod:`.losses`), the fit inputs (:mod:`.fit_templates`) and the config
checks that run when the Snakefile is parsed (:mod:`sysaware.benchmark.config_checks`, which
must know the fit's template systematics and should not import torch to learn them).
"""

from __future__ import annotations

from ..stats.spec import ModelSpec

#: the nominal point of the mixture: signal and background yields, r and lam
NOMINAL = {"s": 50.0, "r": 0.0, "lam": 3.0, "b": 1000.0}
#: template variations used by the HistFactory (interp) model: one sigma of bm3/bm4
VARIATION = {"r": 0.4, "lam": 1.0}
B_SIGMA = 100.0
CHANNEL = "summary"
FIT_NUISANCES = ("r", "lam", "b")


def fit_spec() -> ModelSpec:
    """The HistFactory model of the benchmark's final fit (benchmark 4)."""
    rel = B_SIGMA / NOMINAL["b"]
    return ModelSpec.from_config(
        {
            "channel": CHANNEL,
            "poi": "mu",
            "samples": [{"name": "signal"}, {"name": "background"}],
            "modifiers": [
                {"name": "mu", "type": "normfactor", "samples": ["signal"], "bounds": [-5.0, 10.0]},
                {"name": "r", "type": "normplusshape", "samples": ["background"]},
                {"name": "lam", "type": "normplusshape", "samples": ["background"]},
                {"name": "b", "type": "normsys", "samples": {"background": {"lo": 1 - rel, "hi": 1 + rel}}},
            ],
        }
    )
