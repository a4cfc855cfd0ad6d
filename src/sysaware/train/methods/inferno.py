"""``inferno``: inference-aware training (de Castro, Dorigo, arXiv:1806.04743).

The loss is var(POI): the POI entry of the inverse Hessian of the Asimov likelihood of the
fit's own model, filled with soft histograms of the network's softmax outputs (one per bin) of
a batch of every sample, nominal and shifted (:mod:`sysaware.train.templates`).  Each analysis
says how its likelihood is filled (its ``inferno_likelihood``); the loop is
:func:`sysaware.train.histogram.objective`.
"""

from .base import Method

METHOD = Method(
    name="inferno", order=5, requires=("likelihood",), summary="histogram",
    doc="loss = var(POI) of the fit model's Asimov likelihood filled with soft histograms",
)
