"""Samples of the tau+jets analysis: their files, normalisation and the train/valid/template split.

A simulated event weighs ``xsec_pb * lumi_pb * w / sum_weights``: ``w`` is the event weight of
the ingestion (generator weight times b-tag scale-factor weight) and ``sum_weights`` the sum of
generator weights before any skim, from the config or from the files' ``Runs`` trees
(``genEventSumw``), as NanoAOD keeps it.

Simulated events are split by a hash of (seed, run, luminosityBlock, event), never by position,
so the nominal and every shifted copy of an event land in the same split (INFERNO pairs them)
and the split does not depend on the chunking.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from .ingestion.nanoevents import IngestionError
from .objects.variations import hashed_normal

SPLITS = ("train", "valid", "test")
_SPLIT_STREAM = 0x53504C4954  # "SPLIT": the hash stream of the split, apart from the JER smearing's


def sample_files(sample: Mapping[str, Any], generated_folder: str | Path) -> list[str]:
    """Files of one config sample: its ``files``, or the generator's ``<process>.root``."""
    if "generated" in sample:
        return [str(Path(generated_folder) / f"{sample['generated']}.root")]
    return list(sample["files"])


def sum_of_weights(files: list[str], sample: str) -> float:
    """Sum of ``genEventSumw`` over the ``Runs`` trees of ``files``."""
    total = 0.0
    for path in files:
        try:
            with uproot.open(path) as f:
                if "Runs" not in f:
                    raise IngestionError(f"sample {sample!r}: {path} has no Runs tree; give sum_weights in the config")
                total += float(np.sum(f["Runs"]["genEventSumw"].array(library="np")))
        except (OSError, ValueError) as err:
            raise IngestionError(f"sample {sample!r}: cannot read the Runs tree of {path}: {err}") from err
    if not total > 0:
        raise IngestionError(f"sample {sample!r}: sum of generator weights is {total} in {files}")
    return total


def normalisation(sample: Mapping[str, Any], lumi_pb: float, sumw: float) -> float:
    """Factor turning event weights into expected events: ``xsec * lumi / sum_weights``."""
    if sample["role"] in ("data", "data-driven"):
        return 1.0
    if "xsec_pb" not in sample:
        raise IngestionError(f"sample {sample['name']!r}: simulated samples need xsec_pb")
    return float(sample["xsec_pb"]) * float(lumi_pb) / float(sample.get("sum_weights", sumw))


def split_labels(
    run: np.ndarray, lumi: np.ndarray, event: np.ndarray, seed: int, fractions: Mapping[str, float]
) -> np.ndarray:
    """0 (train), 1 (valid) or 2 (test) per event, from a hash of its id and the seed."""
    f_train, f_valid = float(fractions["train"]), float(fractions["valid"])
    if not f_train + f_valid < 1.0:
        raise ValueError(f"cms.split: train + valid = {f_train + f_valid} leaves no events for the templates")
    u = _uniform(seed, run, lumi, event)
    return np.where(u < f_train, 0, np.where(u < f_train + f_valid, 1, 2)).astype(np.int8)


def _uniform(seed: int, run: np.ndarray, lumi: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) per event id: the normal CDF of the id hash's own stream (not the JER smearing's)."""
    from scipy.special import ndtr

    z = hashed_normal(seed, run, lumi, event, np.zeros(len(event), dtype=np.int64), stream=_SPLIT_STREAM)
    return ndtr(z)
