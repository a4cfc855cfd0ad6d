"""``aware``: the uncertainty-aware (parameterised) classifier f(x, z) of Ghosh, Nachman and Whiteson.

Trained on events shifted to a random z, with z as an extra input; its templates (and the data
histogram) are rebuilt with the network evaluated at every hypothesised z.
"""

from .base import Method

METHOD = Method(
    name="aware", order=2, requires=("nuisance",), z="random", z_input=True,
    doc="parameterised classifier f(x, z) trained on events shifted to a random z, z as an input",
)
