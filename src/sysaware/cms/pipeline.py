"""Stages of the ``cms_ttbar_taujets`` analysis from the validated config: generate, ingest, load.

Each function takes the config (and paths), so the Snakemake rules, the scripts and the tests
run the same code.  Seeds derive from ``seed`` and the stage name.

Weights and features are checked twice before anything is trained: each sample at its
ingestion (:func:`check_ingested`), and each fit sample, merged and split, when the samples are
loaded (:func:`~sysaware.cms.dataset.check_fit_samples`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..input_checks import check_features, check_weights
from ..io import write_json
from ..seeding import derive_seed
from .dataset import (
    FitSample,
    check_fit_samples,
    fit_samples_of,
    load_ingested,
    merge_fit_samples,
    observed_features,
    save_ingested,
)
from .generator.nanoaod import TrueNuisances, generate_sample_files
from .ingestion.ingest import SampleIngestion, ingest_sample
from .ingestion.nanoevents import IngestionError
from .model import fit_samples
from .objects.corrections import TESConfig
from .objects.features import FEATURE_NAMES
from .objects.selection import SelectionConfig
from .objects.truth import TRUTH_BRANCHES, ttbar_labels
from .objects.variations import SystematicsConfig
from .qcd import control_selection, qcd_template
from .samples import normalisation, sample_files, sum_of_weights

if TYPE_CHECKING:
    from .ingestion.distributed import DaskOptions


def selection_config(cfg: Mapping[str, Any]) -> SelectionConfig:
    """The selection of the config (published defaults for unset keys)."""
    sel = dict(cfg["cms"]["selection"])
    if "triggers" in sel:
        sel["triggers"] = tuple(sel["triggers"])
    return SelectionConfig.from_dict(sel)


def systematics_config(cfg: Mapping[str, Any]) -> SystematicsConfig:
    """Variation settings; the JER smearing seed derives from the config seed."""
    return SystematicsConfig(seed=derive_seed(cfg["seed"], "jer") & 0x7FFFFFFF,
                             tes=TESConfig(shift=float(cfg["cms"]["tes_shift"])))


def truth(cfg: Mapping[str, Any]) -> TrueNuisances:
    """True nuisance values of the generated pseudo-data."""
    t = cfg["cms"]["generator"]["truth"]
    return TrueNuisances(mu=float(t["mu"]), jes=float(t["jes"]), tes=float(t["tes"]))


def generate(cfg: Mapping[str, Any], folder: str | Path) -> dict[str, Path]:
    """Write the generator's NanoAOD files (every process of ``cms.generator.n_events`` and data)."""
    gen = cfg["cms"]["generator"]
    return generate_sample_files(folder, dict(gen["n_events"]), derive_seed(cfg["seed"], "cms_generator") & 0x7FFFFFFF,
                                 float(cfg["cms"]["lumi_pb"]), truth(cfg))


def config_sample(cfg: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The ``cms.samples`` entry called ``name``."""
    for s in cfg["cms"]["samples"]:
        if s["name"] == name:
            return s
    raise KeyError(f"cms.samples has no sample {name!r} (known: {[s['name'] for s in cfg['cms']['samples']]})")


def executor_options(cfg: Mapping[str, Any]) -> tuple[str, DaskOptions | None, int]:
    """``(executor, Dask options or None, events per chunk)`` of the ingestion (``cms.executor``, ``cms.dask``)."""
    executor = cfg["cms"].get("executor", "iterative")
    step = int(cfg["cms"].get("chunk_size", 100_000))
    if executor != "dask":
        return executor, None, step
    from .ingestion.distributed import DaskOptions

    dask = DaskOptions.from_config(cfg["cms"].get("dask", {}))
    return executor, dask, int(dask.chunk_size or step)


def ingest(cfg: Mapping[str, Any], name: str, generated_folder: str | Path,
           files: list[str] | None = None) -> SampleIngestion:
    """Selection, variations and features of one config sample (ttbar also gets ``is_taujets``).

    ``files``: what to read instead of the config's files (their staged local copies, see
    :func:`sysaware.cms.ingestion.remote.job_files`).  ``cms.executor`` picks the single-process or the
    Dask ingestion (identical results).
    """
    s = config_sample(cfg, name)
    is_mc = s["role"] not in ("data", "data-driven")
    selection = selection_config(cfg)
    if s["role"] == "data-driven":  # QCD from the 0-tag region of data
        selection = control_selection(selection)
    labels = {"event_labels": ttbar_labels, "label_branches": TRUTH_BRANCHES} if s.get("split_ttbar") else {}
    executor, dask, step = executor_options(cfg)
    result = ingest_sample(name, files if files is not None else sample_files(s, generated_folder),
                           selection=selection, systematics=systematics_config(cfg), is_mc=is_mc,
                           step_size=step, nan_policy=cfg["cms"].get("nan_policy", "error"),
                           executor=executor, dask=dask, **labels)
    if s["role"] == "data-driven":
        result.arrays = {"nominal": qcd_template(result.arrays["nominal"], float(cfg["cms"]["qcd_mistag_rate"]))}
    check_ingested(cfg, s, result)
    return result


#: default of ``cms.feature_check_min_events``: smaller (fit) samples are not checked for constant features
FEATURE_CHECK_MIN_EVENTS = 50


def check_ingested(cfg: Mapping[str, Any], sample: Mapping[str, Any], result: SampleIngestion) -> None:
    """One ingested config sample's weights can make a yield and its features vary; else :class:`IngestionError`
    naming the sample and its files.

    Simulated samples: the generator weights of all events read sum to more than 0, and the
    nominal selection's event weights (genWeight x b-tag weight) are finite, not all zero and
    sum to more than 0; single negative weights (NLO generators) are logged as a WARNING, or
    stop the run with ``cms.negative_weights: error``.  A data-driven sample's template weights
    must make a yield too.  Every sample (data included) with at least
    ``cms.feature_check_min_events`` selected events must have no feature constant over them.
    """
    name, nominal = result.sample, result.arrays["nominal"]
    what = f"sample {name!r} ({', '.join(result.files)})"
    if result.is_mc and not result.sum_gen_weight > 0:
        raise IngestionError(f"{what}: genWeight sums to {result.sum_gen_weight:g} over all {result.n_events_read} "
                             "events read; a simulated sample's weights must sum to more than 0")
    if sample["role"] != "data":
        check_weights(nominal["weight"], what, column="the event weight (genWeight x b-tag weight) of the nominal "
                      "selection", rows=nominal["event"], row_name="event",
                      negative=cfg["cms"].get("negative_weights", "warn"), policy_key="cms.negative_weights",
                      hint="; cms.negative_weights 'warn' keeps them (e.g. NLO generator weights)",
                      error=IngestionError)
    check_features({f: nominal[f] for f in FEATURE_NAMES}, f"{what}, nominal selection",
                   min_events=int(cfg["cms"].get("feature_check_min_events", FEATURE_CHECK_MIN_EVENTS)),
                   error=IngestionError)


def write_ingestion(result: SampleIngestion, npz: str | Path, meta: str | Path, sumw: float | None,
                    staged_from: list[str] | None = None) -> None:
    """The arrays (``.npz``) and the bookkeeping JSON of one ingested sample; neither survives a failure.

    ``staged_from``: the URLs whose local copies ``result.files`` are (``cms.remote_inputs: stage``).
    """
    save_ingested(npz, result.arrays)
    try:
        write_json(meta, {
            "sample": result.sample, "files": list(result.files), "is_mc": result.is_mc,
            **({"staged_from": list(staged_from)} if staged_from is not None else {}),
            "n_events_read": result.n_events_read, "sum_gen_weight_read": result.sum_gen_weight,
            "sum_weights": sumw, "btag_efficiencies": {str(k): v for k, v in result.btag_efficiencies.items()},
            "seconds": result.seconds, "cutflows": result.cutflows,
            "selected": {v: result.n_selected(v) for v in result.variations},
            "nonfinite_dropped": result.nonfinite_dropped,
        })
    except BaseException:
        Path(npz).unlink(missing_ok=True)
        raise


def sample_sum_weights(cfg: Mapping[str, Any], name: str, generated_folder: str | Path,
                       files: list[str] | None = None) -> float | None:
    """Sum of generator weights before any skim (config value, else the files' Runs trees); None for data.

    ``files``: the files to read instead of the config's (their staged local copies).
    """
    s = config_sample(cfg, name)
    if s["role"] in ("data", "data-driven"):
        return None
    if "sum_weights" in s:
        return float(s["sum_weights"])
    return sum_of_weights(files if files is not None else sample_files(s, generated_folder), name)


def load_samples(
    cfg: Mapping[str, Any], ingested: Mapping[str, str | Path]
) -> tuple[dict[str, FitSample], np.ndarray]:
    """Fit samples (normalised, split, paired) and the data's features from the ingested files.

    ``ingested[name]`` is the ``.npz`` of config sample ``name``; its ``.json`` sits beside it.
    """
    out: dict[str, FitSample] = {}
    sources: dict[str, list[str]] = {}
    observed = None
    for s in cfg["cms"]["samples"]:
        path = Path(ingested[s["name"]])
        arrays = load_ingested(path)
        if s["role"] == "data":
            observed = observed_features(arrays)
            continue
        meta = json.loads(path.with_suffix(".json").read_text())
        norm = normalisation(s, float(cfg["cms"]["lumi_pb"]), meta["sum_weights"])
        for fs in fit_samples_of(s.get("fit_sample", s["name"]), arrays, norm, int(cfg["seed"]), cfg["cms"]["split"],
                                 bool(s.get("split_ttbar", False))):
            out[fs.name] = merge_fit_samples(out[fs.name], fs) if fs.name in out else fs
            sources.setdefault(fs.name, []).append(f"{s['name']}: {', '.join(meta['files'])}")
    missing = [n for n in fit_samples(cfg) if n not in out]
    if missing:
        raise KeyError(f"no ingested events for fit samples {missing}")
    if observed is None:
        raise KeyError("cms.samples has no sample with role data")
    check_fit_samples(out, {k: "; ".join(v) for k, v in sources.items()},
                      min_events=int(cfg["cms"].get("feature_check_min_events", FEATURE_CHECK_MIN_EVENTS)),
                      negative=cfg["cms"].get("negative_weights", "warn"))
    return out, observed
