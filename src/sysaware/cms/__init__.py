"""CMS ttbar -> tau+jets analysis on NanoAOD.

Subpackages: :mod:`.generator` (the built-in NanoAOD generator), :mod:`.ingestion` (NanoEvents
reading, the per-chunk ingestion and its executors, remote inputs) and :mod:`.objects`
(corrections, systematic variations, selection, features, truth labels).  The analysis modules
sit beside them: samples, datasets, the fit model, training, ONNX export, fit inputs, QCD.
"""
