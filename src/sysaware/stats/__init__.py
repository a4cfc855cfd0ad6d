"""The statistical model shared by the INFERNO loss (torch) and the final fit (pyhf/cabinetry)."""

from .spec import ModelSpec, ModelSpecError, ModifierSpec, SampleSpec, Templates
from .torch_model import TorchModel, as_tensor_templates

__all__ = [
    "ModelSpec",
    "ModelSpecError",
    "ModifierSpec",
    "SampleSpec",
    "Templates",
    "TorchModel",
    "as_tensor_templates",
]
