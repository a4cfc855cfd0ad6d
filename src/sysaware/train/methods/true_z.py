"""``true_z``: the cross-entropy classifier trained on events at the true nuisance value of the
pseudo-data, one model per true value (``true_z_<k>``): the reference optimum a systematic-aware
method is measured against."""

from .base import Method

METHOD = Method(
    name="true_z", order=6, requires=("nuisance", "true_values"), z="true",
    doc="the cross-entropy classifier at the true z, one per true value (the reference optimum)",
)
