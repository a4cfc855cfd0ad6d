"""INFERNO synthetic 3-feature benchmark (de Castro & Dorigo, arXiv:1806.04743).

:mod:`.mixture` (the generator), :mod:`.analytic` (the analytic-likelihood reference),
:mod:`.model` (the fit's HistFactory description, no torch), :mod:`.losses`,
:mod:`.evaluate`, :mod:`.fit_templates`, :mod:`.pyhf_check` and :mod:`.pipeline` (the stages).
"""
