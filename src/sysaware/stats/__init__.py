"""The statistical model shared by the INFERNO loss (torch) and the final fit (pyhf/cabinetry).

The torch half (:class:`TorchModel`, :func:`as_tensor_templates`) is imported on first use,
so that code which only needs the model's description (:class:`ModelSpec`, e.g. the config
checks run when the Snakefile is parsed) does not import torch.
"""

from ..lazy import lazy_attributes
from .spec import ModelSpec, ModelSpecError, ModifierSpec, SampleSpec, Templates

__all__ = [
    "ModelSpec",
    "ModelSpecError",
    "ModifierSpec",
    "SampleSpec",
    "Templates",
    "TorchModel",
    "as_tensor_templates",
]

__getattr__ = lazy_attributes(__name__, {"TorchModel": "torch_model", "as_tensor_templates": "torch_model"})
