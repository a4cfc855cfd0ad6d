"""The statistical model shared by the INFERNO loss (torch) and the final fit (pyhf/cabinetry).

This package's top level holds the model's description only (:mod:`.spec`, no torch), so that
code which only describes a model (the config checks run when the Snakefile is parsed) stays
light; the differentiable half lives in :mod:`.torch_model`, the pyhf/cabinetry export in
:mod:`.pyhf_export`.
"""

from .spec import ModelSpec, ModelSpecError, ModifierSpec, SampleSpec, Templates

__all__ = ["ModelSpec", "ModelSpecError", "ModifierSpec", "SampleSpec", "Templates"]
