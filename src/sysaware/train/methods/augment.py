"""``augment``: cross-entropy on events shifted by a random nuisance value per event and epoch (data augmentation)."""

from .base import Method

METHOD = Method(
    name="augment", order=1, requires=("nuisance",), z="random",
    doc="cross-entropy on events shifted to a random z per event and epoch",
)
