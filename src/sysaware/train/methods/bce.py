"""``bce``: binary cross-entropy on nominal events, the ordinary classifier every method is compared with."""

from .base import Method

METHOD = Method(
    name="bce", order=0, doc="cross-entropy classifier on nominal events (classes weighted to equal total weight)",
)
