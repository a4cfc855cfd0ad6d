"""Weights, features, labels and fit samples that would give a wrong number stop the run, naming the culprit.

Reliability, second round: each case below used to end with exit status 0 (a yield of 0, a
negative yield, a constant network input, mu scaling a background) or with a raw pandas error.
Every case goes through the function the stage script calls (``sysaware.higgsml.dataset.prepare``
for ``scripts/higgsml_prepare.py``; ``sysaware.cms.pipeline.ingest`` for ``scripts/cms_ingest.py``;
``sysaware.cms.pipeline.load_samples`` for ``scripts/cms_train.py``; ``sysaware.config.load_config``
for the config checks), and a representative set through the scripts and Snakemake themselves.

Inputs: the synthetic ATLAS-format CSV of ``helpers.atlas_csv`` (40 rows, 20 per sample), a small
synthetic FAIR-Universe parquet, and NanoAOD files of the built-in generator (300 ttbar events, some
40 selected) with edited generator weights or taus.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import LOOSE, REPO, assert_failed_cleanly, atlas_csv, snakemake_env, with_field
from sysaware.cms.dataset import check_fit_samples, fit_samples_of
from sysaware.cms.generator import nanoaod as G
from sysaware.cms.ingestion.nanoevents import IngestionError
from sysaware.cms.model import SIGNAL
from sysaware.cms.objects.features import FEATURE_NAMES
from sysaware.cms.pipeline import ingest, load_samples, sample_sum_weights, write_ingestion
from sysaware.cms.samples import split_labels
from sysaware.config import ConfigError, load_config
from sysaware.errors import InputError
from sysaware.higgsml.dataset import TEMPLATES, assign_splits, prepare
from sysaware.higgsml.io import FAIR_FEATURES, HiggsMLInputError


N_EVENTS = 300
_UNUSABLE = "feature(s) that cannot inform the network (undefined or constant)"


# --------------------------------------------------------------------------- HiggsML weights and features


@pytest.fixture(scope="module")
def hml(tmp_path_factory) -> dict[str, Any]:
    """A folder for the CSVs and the validated config of the good one."""
    d = tmp_path_factory.mktemp("hml")
    good = atlas_csv(d / "good.csv")
    (d / "cfg.yaml").write_text(yaml.safe_dump({"analysis": "higgsml_tes", "seed": 5, "higgsml": {"input": str(good)}}))
    return {"folder": d, "cfg": load_config(d / "cfg.yaml")}


def _hcfg(hml: dict[str, Any], name: str, edit=None, **higgsml: Any) -> tuple[dict[str, Any], Path]:
    """The config of ``<name>.csv`` (the synthetic CSV changed by ``edit``), and the file."""
    path = atlas_csv(hml["folder"] / f"{name}.csv", edit=edit)
    cfg = copy.deepcopy(hml["cfg"])
    cfg["higgsml"] |= {"input": str(path), **higgsml}
    return cfg, path


def _signal(df: pd.DataFrame) -> np.ndarray:
    return (df["Label"] == "s").to_numpy()


def _negative_background(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[~_signal(df), "Weight"] *= -1
    return df


def _one_negative(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[7, "Weight"] *= -1  # row 7: background
    return df


def test_higgsml_all_zero_weights_name_file_column_and_sample(hml):
    cfg, path = _hcfg(hml, "zero_weights", lambda df: df.assign(Weight=0.0))
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == f"{path}: sample 'htautau': column Weight is 0 in all 20 events, so its yield would be 0"


@pytest.mark.parametrize(("edit", "count", "row"), [(_negative_background, 20, 1), (_one_negative, 1, 7)])
def test_higgsml_negative_weights_name_file_column_count_and_first_row(hml, edit, count, row):
    cfg, path = _hcfg(hml, f"negative_{count}", edit)
    w = pd.read_csv(path)["Weight"].to_numpy()
    background = w[1::2]
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == (
        f"{path}: sample 'background': column Weight has {count} negative value(s) among its 20 events "
        f"(first at data row {row}: {w[row]:g}; they sum to {background[background < 0].sum():g}, all 20 to "
        f"{background.sum():g}); the HiggsML weights (ATLAS 2014, FAIR-Universe) are positive: is this a HiggsML "
        "file, and is the column intact?"
    )


def test_higgsml_feature_undefined_in_every_event_names_feature_and_file(hml):
    cfg, path = _hcfg(hml, "no_mass_vis", lambda df: df.assign(DER_mass_vis=-999.0))
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == (f"{path}: all samples together: {_UNUSABLE}: DER_mass_vis undefined (-999 in the file) "
                               "in all 40 events")


def test_higgsml_feature_undefined_in_one_sample_names_the_sample_above_the_minimum(hml):
    """Per sample only from feature_check_min_events events on: 20 events are checked at 20, not at the default 50."""

    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[_signal(df), "DER_mass_vis"] = -999.0
        return df

    cfg, path = _hcfg(hml, "no_signal_mass_vis", edit, feature_check_min_events=20)
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == (f"{path}: sample 'htautau': {_UNUSABLE}: DER_mass_vis undefined (-999 in the file) "
                               "in all 20 events")
    cfg["higgsml"]["feature_check_min_events"] = 50
    assert len(prepare(cfg)[0]["weight"]) == 40


def _jets_at_50(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[df["PRI_jet_num"] > 0, "PRI_jet_leading_pt"] = 50.0
    return df


@pytest.mark.parametrize(("edit", "detail"), [
    (lambda df: df.assign(PRI_met=42.0), "PRI_met takes the single value 42 in all 40 events"),
    (_jets_at_50, "PRI_jet_leading_pt takes the single value 50 in all 26 events where it is defined (of 40)"),
])
def test_higgsml_constant_feature_names_it(hml, edit, detail):
    cfg, path = _hcfg(hml, "constant", edit)
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == f"{path}: all samples together: {_UNUSABLE}: {detail}"


def test_higgsml_partly_undefined_jet_features_and_unused_columns_are_not_flagged(hml):
    """Jet features undefined in the 0-jet (and 1-jet) events pass even at the smallest minimum; a
    column that is not a network input may be anything."""
    jets = ["PRI_jet_leading_pt", "PRI_jet_subleading_pt", "DER_mass_jet_jet", "PRI_jet_num", "PRI_tau_pt"]
    cfg, _ = _hcfg(hml, "jets", lambda df: df.assign(DER_mass_MMC=-999.0, PRI_lep_phi=1.0), features=jets,
                   feature_check_min_events=2)
    arrays, _ = prepare(cfg)
    assert np.isnan(arrays["f_PRI_jet_leading_pt"]).sum() == 14 and np.isnan(arrays["f_DER_mass_MMC"]).all()


def test_higgsml_templates_split_without_yield_names_the_sample(hml):
    """Weights 0 in every templates-split event of the signal: its templates and pseudo-data would be empty."""
    split = assign_splits(40, hml["cfg"]["higgsml"]["split"], int(hml["cfg"]["seed"]))
    rows = np.flatnonzero((split == TEMPLATES) & (np.arange(40) % 2 == 0))
    assert 0 < len(rows) < 20
    cfg, path = _hcfg(hml, "no_signal_templates", lambda df: df.assign(Weight=np.where(np.isin(df.index, rows), 0.0,
                                                                                        df["Weight"])))
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == (f"{path}: sample 'htautau', templates split (higgsml.split): column Weight is 0 in all "
                               f"{len(rows)} events, so its yield would be 0")


# --------------------------------------------------------------------------- HiggsML reader


def _fair_parquet(path: Path, n: int = 40, **columns: Any) -> Path:
    """A synthetic FAIR-Universe parquet (labels 0/1 alternating), with ``columns`` replaced."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({name: rng.uniform(1.0, 100.0, n).astype(np.float32) for name in FAIR_FEATURES})
    df["weights"] = rng.uniform(0.1, 2.0, n).astype(np.float32)
    df["labels"] = (np.arange(n) % 2 == 0).astype(np.float32)
    df["detailed_labels"] = np.where(df["labels"] == 1, "htautau", "ztautau")
    for name, values in columns.items():
        df[name] = values
    df.to_parquet(path)
    return path


def _pcfg(hml: dict[str, Any], path: Path) -> dict[str, Any]:
    cfg = copy.deepcopy(hml["cfg"])
    cfg["higgsml"] |= {"input": str(path), "features": ["PRI_had_pt", "PRI_lep_pt", "PRI_met", "DER_mass_vis"]}
    return cfg


def test_higgsml_good_parquet_prepares(hml):
    assert len(prepare(_pcfg(hml, _fair_parquet(hml["folder"] / "good.parquet")))[0]["weight"]) == 40


@pytest.mark.parametrize(("labels", "found"), [
    (np.where(np.arange(40) % 2 == 0, "s", "b"), "values found: 'b' (20), 's' (20); first at data row 0"),
    (np.where(np.arange(40) < 3, 2.0, 1.0), "values found: 2.0 (3); first at data row 0"),
])
def test_higgsml_parquet_labels_not_0_or_1_name_file_column_and_values(hml, labels, found):
    path = _fair_parquet(hml["folder"] / "labels.parquet", labels=labels)
    with pytest.raises(HiggsMLInputError) as info:
        prepare(_pcfg(hml, path))
    assert str(info.value) == f"{path}: column labels must be 0 or 1 (1 signal, 0 background; {found})"


def test_higgsml_csv_label_not_s_or_b_lists_the_values(hml):
    cfg, path = _hcfg(hml, "labels", lambda df: df.assign(Label=np.where(np.arange(40) < 2, "1", df["Label"])))
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == f"{path}: column Label must be 's' or 'b' (values found: '1' (2); first at data row 0)"


def test_higgsml_directory_as_input_says_it_is_a_directory(hml, tmp_path):
    cfg = copy.deepcopy(hml["cfg"])
    cfg["higgsml"]["input"] = str(tmp_path)
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == f"{tmp_path}: is a directory, not a file (higgsml.input names one CSV or parquet file)"


def test_higgsml_non_numeric_weights_name_file_column_and_values(hml):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df["Weight"] = df["Weight"].astype(object)
        df.loc[[5, 9], "Weight"] = "heavy"
        return df

    cfg, path = _hcfg(hml, "text_weight", edit)
    with pytest.raises(HiggsMLInputError) as info:
        prepare(cfg)
    assert str(info.value) == (f"{path}: column Weight is not numeric (2 value(s) that are not numbers: 'heavy' (2); "
                               "first at data row 5)")
    parquet = _fair_parquet(hml["folder"] / "text_weight.parquet", weights=["w"] * 40)
    with pytest.raises(HiggsMLInputError, match=r"text_weight\.parquet: column weights is not numeric \(40 value"):
        prepare(_pcfg(hml, parquet))


def test_higgsml_unreadable_files_name_the_file(hml):
    junk = hml["folder"] / "junk.parquet"
    junk.write_bytes(b"EventId,Weight\n1,2\n")
    with pytest.raises(HiggsMLInputError, match=r"^.*junk\.parquet: cannot read as parquet \("):
        prepare(_pcfg(hml, junk))
    empty = hml["folder"] / "empty.csv"
    empty.write_bytes(b"")
    cfg = copy.deepcopy(hml["cfg"])
    cfg["higgsml"]["input"] = str(empty)
    with pytest.raises(HiggsMLInputError, match=r"^.*empty\.csv: cannot read as CSV \(EmptyDataError"):
        prepare(cfg)


# --------------------------------------------------------------------------- CMS weights and features


_CMS_CASES = ("good", "zero", "negative", "negative_selected", "zero_selected", "few_negative", "other_negative",
              "constant")


def _cms_raw(samples: list[dict[str, Any]], results: Path) -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    raw["results_dir"] = str(results)
    raw["cms"] |= {"samples": samples, "norm_systematics": {}, "selection": dict(LOOSE), "chunk_size": 1000}
    return raw


def _load(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    path = folder / "cms.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


@pytest.fixture(scope="module")
def nano(tmp_path_factory) -> dict[str, Any]:
    """NanoAOD files with edited genWeight (or taus), the selected events and which of them are tau+jets,
    and the config (``cfg``) with one background sample per file (the good one the signal) and the data."""
    d = tmp_path_factory.mktemp("nano")
    path = {c: d / f"{c}.root" for c in _CMS_CASES}
    # the good sample is the signal, fitted as the sample mu scales (a fit model must exist: fit options are checked)
    samples = [{"name": c, "role": "signal" if c == "good" else "background", "files": [str(p)], "xsec_pb": 1.0}
               | ({"fit_sample": SIGNAL} if c == "good" else {}) for c, p in path.items()] + [{"name": "data", "role": "data", "files": [str(path["good"])]}]
    cfg = _load(_cms_raw(samples, d / "results"), d)
    sample = G.generate_process("ttbar", N_EVENTS, 11)
    cols = dict(sample.collections)
    G.write_sample(path["good"], sample)
    # the events that the pipeline's selection (with its JER smearing) keeps; split_ttbar labels them
    clean = ingest(_with(cfg, samples=[{**cfg["cms"]["samples"][0], "split_ttbar": True}, cfg["cms"]["samples"][-1]]),
                   "good", d).arrays["nominal"]
    events = ak.to_numpy(cols["event"])
    selected = np.isin(events, clean["event"])
    taujets = np.isin(events, clean["event"][clean["is_taujets"].astype(bool)])
    runs = {"run": np.array([1]), "genEventCount": np.array([N_EVENTS]), "genEventSumw": np.array([float(N_EVENTS)]),
            "genEventSumw2": np.array([float(N_EVENTS)])}
    gen = np.asarray(cols["genWeight"], dtype=np.float32)
    assert (gen == 1).all()
    first_two = np.flatnonzero(selected)[:2]
    weights = {
        "zero": np.zeros_like(gen),
        "negative": -gen,
        "negative_selected": np.where(selected, -1.0, 1.0),
        "zero_selected": np.where(selected, 0.0, 1.0),
        "few_negative": np.where(np.isin(np.arange(N_EVENTS), first_two), -0.5, 1.0),
        "other_negative": np.where(selected & ~taujets, -0.5, 1.0),  # ttbar sums to > 0, its ttbar_other part not
    }
    for name, w in weights.items():
        G.write_nanoaod(path[name], cols | {"genWeight": w.astype(np.float32)}, runs=runs)
    # every tau at eta 1 with charge +1: chargeEta = q |eta| is 1 in every selected event
    tau = with_field(with_field(cols["Tau"], "eta", ak.ones_like(cols["Tau"].eta)), "charge",
                     ak.ones_like(cols["Tau"].charge))
    G.write_nanoaod(path["constant"], cols | {"Tau": tau}, runs=runs)
    return {"folder": d, "path": path, "event": events, "selected": selected, "taujets": taujets,
            "first_negative": int(events[first_two[0]]), "cfg": cfg}


@pytest.fixture(scope="module")
def cms_cfg(nano) -> dict[str, Any]:
    """The validated config of :func:`nano`."""
    return nano["cfg"]


def _with(cfg: dict[str, Any], **cms: Any) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    out["cms"] |= cms
    return out


@pytest.mark.parametrize(("case", "total"), [("zero", "0"), ("negative", "-300")])
def test_cms_generator_weights_without_yield_name_sample_and_files(nano, cms_cfg, case, total):
    with pytest.raises(IngestionError) as info:
        ingest(cms_cfg, case, nano["folder"])
    assert str(info.value) == (f"sample {case!r} ({nano['path'][case]}): genWeight sums to {total} over all 300 events "
                               "read; a simulated sample's weights must sum to more than 0")


@pytest.mark.parametrize("case", ["negative_selected", "zero_selected"])
def test_cms_nominal_selection_without_yield_names_sample_and_files(nano, cms_cfg, case):
    """All events read sum to more than 0, but the selected ones do not."""
    n = int(nano["selected"].sum())
    with pytest.raises(IngestionError) as info:
        ingest(cms_cfg, case, nano["folder"])
    head = f"sample {case!r} ({nano['path'][case]}): the event weight (genWeight x b-tag weight) of the nominal selection"
    if case == "zero_selected":
        assert str(info.value) == f"{head} is 0 in all {n} events, so its yield would be 0"
    else:
        assert re.fullmatch(re.escape(head) + rf" sums to (-[0-9.e+]+) over its {n} events \({n} negative, summing to "
                            r"\1\); a yield must be above 0", str(info.value)), str(info.value)


def test_cms_few_negative_weights_warn_by_default_and_stop_with_policy_error(nano, cms_cfg, caplog):
    n = int(nano["selected"].sum())
    with caplog.at_level(logging.WARNING, logger="sysaware"):
        result = ingest(cms_cfg, "few_negative", nano["folder"])
    assert result.n_selected() == n
    note = (f"sample 'few_negative' ({nano['path']['few_negative']}): the event weight (genWeight x b-tag weight) of "
            f"the nominal selection has 2 negative value(s) among its {n} events (first at event {nano['first_negative']}: ")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(note) and m.endswith("; kept (cms.negative_weights 'warn')") for m in warnings), warnings
    with pytest.raises(IngestionError) as info:
        ingest(_with(cms_cfg, negative_weights="error"), "few_negative", nano["folder"])
    assert str(info.value).startswith(note)
    assert str(info.value).endswith("; cms.negative_weights 'warn' keeps them (e.g. NLO generator weights)")


def test_cms_constant_feature_names_feature_sample_and_files_above_the_minimum(nano, cms_cfg):
    n = int(ingest(cms_cfg, "constant", nano["folder"]).n_selected())
    assert 10 <= n < 50  # passes at the default minimum of 50 events (too few to tell), fails at 10
    with pytest.raises(IngestionError) as info:
        ingest(_with(cms_cfg, feature_check_min_events=10), "constant", nano["folder"])
    assert str(info.value) == (f"sample 'constant' ({nano['path']['constant']}), nominal selection: {_UNUSABLE}: "
                               f"chargeEta takes the single value 1 in all {n} events")


@pytest.fixture(scope="module")
def split_cfg(nano, tmp_path_factory) -> tuple[dict[str, Any], dict[str, Path]]:
    """A split ttbar sample whose ttbar_other events weigh -0.5 (the whole sample sums to more than 0), ingested."""
    d = tmp_path_factory.mktemp("split")
    samples = [{"name": "ttbar", "role": "signal", "split_ttbar": True, "xsec_pb": 1.0,
                "files": [str(nano["path"]["other_negative"])]},
               {"name": "data", "role": "data", "files": [str(nano["path"]["good"])]}]
    cfg = _load(_cms_raw(samples, d / "results"), d)
    paths = {}
    for s in cfg["cms"]["samples"]:
        paths[s["name"]] = d / "ingested" / f"{s['name']}.npz"
        write_ingestion(ingest(cfg, s["name"], nano["folder"]), paths[s["name"]], paths[s["name"]].with_suffix(".json"),
                        sample_sum_weights(cfg, s["name"], nano["folder"]))
    return cfg, paths


def _fit_sample_message(nano) -> str:
    return (f"fit sample 'ttbar_other' (ttbar: {nano['path']['other_negative']}): the expected-event weight "
            f"(weight x xsec x lumi / sum_weights) sums to -")


def test_cms_fit_sample_without_yield_names_fit_sample_its_samples_and_files(nano, split_cfg):
    cfg, paths = split_cfg
    n = int((nano["selected"] & ~nano["taujets"]).sum())
    with pytest.raises(InputError) as info:
        load_samples(cfg, paths)
    msg = str(info.value)
    assert msg.startswith(_fit_sample_message(nano)), msg
    assert f" over its {n} events ({n} negative, summing to " in msg and msg.endswith("a yield must be above 0")


def _fit_samples(n: int, constant: str | None = None, zero_templates: bool = False) -> dict:
    """Two fit samples of ``n`` events each (feature ``constant`` at 5 in both; weights 0 in the test split)."""
    out = {}
    fractions = {"train": 0.5, "valid": 0.1}
    for k, name in enumerate(("a", "b")):
        rng = np.random.default_rng(k)
        d = {f: rng.uniform(0.1, 100, n) for f in FEATURE_NAMES}
        if constant:
            d[constant] = np.full(n, 5.0)
        d |= {"run": np.ones(n, np.uint32), "luminosityBlock": np.ones(n, np.uint32),
              "event": np.arange(k * n, (k + 1) * n, dtype=np.uint64), "weight_gen": np.ones(n)}
        test = split_labels(d["run"], d["luminosityBlock"], d["event"], 1, fractions) == 2
        d["weight"] = np.where(test, 0.0, 1.0) if zero_templates else np.ones(n)
        out[name] = fit_samples_of(name, {"nominal": d}, 1.0, 1, fractions)[0]
    return out


def test_cms_feature_constant_over_all_fit_samples_is_named_whatever_their_size():
    samples = _fit_samples(6, constant="ht")
    check_fit_samples(_fit_samples(6), {}, min_events=50)  # the same without the constant feature passes
    with pytest.raises(InputError) as info:
        check_fit_samples(samples, {"a": "a: a.root", "b": "b: b.root"}, min_events=50)
    assert str(info.value) == f"all fit samples together (a, b): {_UNUSABLE}: ht takes the single value 5 in all 12 events"
    with pytest.raises(InputError) as info:  # above the minimum, the first fit sample is named
        check_fit_samples(samples, {"a": "a: a.root", "b": "b: b.root"}, min_events=6)
    assert str(info.value) == f"fit sample 'a' (a: a.root): {_UNUSABLE}: ht takes the single value 5 in all 6 events"


def test_cms_fit_sample_templates_split_without_yield_names_it():
    samples = _fit_samples(30, zero_templates=True)
    n_test = int((samples["a"].nominal.split == 2).sum())
    with pytest.raises(InputError) as info:
        check_fit_samples(samples, {"a": "a: a.root"}, min_events=50)
    assert str(info.value) == (f"fit sample 'a' (a: a.root), templates (test) split of cms.split: the expected-event "
                               f"weight is 0 in all {n_test} events, so its yield would be 0")


# --------------------------------------------------------------------------- CMS fit samples of mixed roles


def _default_with(*changes: tuple[int, str, Any]) -> dict[str, Any]:
    """config/config.yaml with ``(sample index, key, value)`` changes (value ``...`` deletes the key)."""
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for i, key, value in changes:
        if value is ...:
            raw["cms"]["samples"][i].pop(key)
        else:
            raw["cms"]["samples"][i][key] = value
    return raw


_QCD_FROM_DATA = [(4, "role", "data-driven"), (4, "generated", ...), (4, "xsec_pb", ...), (4, "files", ["data.root"])]
ROLE_CASES = {
    "background_into_signal": (
        [(1, "fit_sample", "ttbar_taujets")],
        "cms.samples[1] ('single_top').fit_sample: 'ttbar_taujets' is the signal fit sample of cms.samples[0] "
        "('ttbar'), made by its split_ttbar; the background sample 'single_top' cannot be merged into it (mu would "
        "scale it too). Give it a fit sample of its own"),
    "simulated_into_data_driven": (
        [*_QCD_FROM_DATA, (2, "fit_sample", "qcd")],
        "cms.samples[2] ('wjets').fit_sample: 'qcd' is the data-driven fit sample of cms.samples[4] ('qcd'); the "
        "background sample 'wjets' cannot be merged into it (a data-driven template would be mixed with simulation"),
    "data_driven_into_simulated": (
        [*_QCD_FROM_DATA, (4, "fit_sample", "vjets")],
        "cms.samples[4] ('qcd').fit_sample: 'vjets' is the background fit sample of cms.samples[2] ('wjets'); the "
        "data-driven sample 'qcd' cannot be merged into it"),
    "background_into_data": (
        [(3, "fit_sample", "data")],
        "cms.samples[3] ('dy').fit_sample: 'data' is the data fit sample of cms.samples[5] ('data'); the background "
        "sample 'dy' cannot be merged into it (it would be fitted as (part of) the observed data)"),
    "data_into_a_fit_sample": (
        [(5, "fit_sample", "vjets")],
        "cms.samples[5] ('data').fit_sample: 'vjets' is the background fit sample of cms.samples[2] ('wjets'); the "
        "data are not merged into a fit sample"),
    "split_ttbar_on_a_background": (
        [(0, "role", "background"), (1, "role", "signal")],
        "cms.samples[0] ('ttbar').split_ttbar: only the signal sample is split (its ttbar_taujets part is what mu "
        "scales); this sample's role is 'background'"),
}


@pytest.mark.parametrize("case", ROLE_CASES)
def test_fit_sample_of_another_role_is_named_by_load_config(tmp_path, case):
    changes, text = ROLE_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_default_with(*changes)))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"config file {path}: {text}"), str(info.value)


def test_background_merged_into_ttbar_other_is_allowed(tmp_path):
    """Both are backgrounds (e.g. a dileptonic ttbar sample next to the split inclusive one)."""
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(_default_with((3, "fit_sample", "ttbar_other"))))
    assert load_config(path)["cms"]["samples"][3]["fit_sample"] == "ttbar_other"


def test_fit_sample_of_another_role_stops_snakemake_before_any_job(tmp_path):
    raw = _default_with(*ROLE_CASES["background_into_signal"][0])
    raw["results_dir"] = str(tmp_path / "results")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--nolock", "--cores", "1", "--configfile",
                          str(path)], cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert res.returncode != 0
    assert "cms.samples[1] ('single_top').fit_sample: 'ttbar_taujets' is the signal fit sample" in res.stdout, \
        res.stdout[-2000:] + res.stderr[-2000:]
    assert not (tmp_path / "results").exists() and "Select jobs to execute" not in res.stdout + res.stderr


# --------------------------------------------------------------------------- the scripts


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def scripts(hml, nano, cms_cfg, split_cfg, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path, Path]]:
    """Run the stage scripts, two at a time: case -> (process, output folder, its input)."""
    d = tmp_path_factory.mktemp("scripts")
    jobs: dict[str, tuple[str, list[str], Path, Path]] = {}

    def job(key: str, cfg: dict[str, Any], script: str, args: list[str], source: Path) -> None:
        out = d / key
        out.mkdir()
        (out / "config.json").write_text(json.dumps({"config": cfg}))
        jobs[key] = (script, ["--config", str(out / "config.json"), *[a.format(out=out) for a in args]], out, source)

    prepared = ["--out", "{out}/prepared/events.npz", "--summary", "{out}/prepared/summary.json"]
    for key, (cfg, path) in {"negative": _hcfg(hml, "script_negative", _negative_background),
                             "undefined": _hcfg(hml, "script_undefined", lambda df: df.assign(DER_mass_vis=-999.0))}.items():
        job(f"higgsml_{key}", cfg, "higgsml_prepare.py", prepared, path)
    parquet = _fair_parquet(d / "labels.parquet", labels=np.where(np.arange(40) % 2 == 0, "s", "b"))
    job("higgsml_labels", _pcfg(hml, parquet), "higgsml_prepare.py", prepared, parquet)
    job("cms_zero", cms_cfg, "cms_ingest.py", ["--sample", "zero", "--generated", str(nano["folder"]), "--out",
                                               "{out}/ingested/zero.npz"], nano["path"]["zero"])
    cfg, paths = split_cfg
    job("cms_train", cfg, "cms_train.py", ["--method", "bce", "--ingested", *map(str, paths.values()), "--out",
                                           "{out}/models/bce/repeat0.pt", "--onnx", "{out}/models/bce/repeat0.onnx",
                                           "--history", "{out}/models/bce/repeat0_history.json"],
        nano["path"]["other_negative"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {k: pool.submit(_script, script, *args) for k, (script, args, _, _) in jobs.items()}
        return {k: (f.result(), jobs[k][2], jobs[k][3]) for k, f in runs.items()}


def test_higgsml_prepare_script_negative_weights_fail_cleanly(scripts):
    run, out, path = scripts["higgsml_negative"]
    assert_failed_cleanly(run, out, f"{path}: sample 'background': column Weight has 20 negative value(s) among its "
                                    "20 events (first at data row 1: ")


def test_higgsml_prepare_script_undefined_feature_fails_cleanly(scripts):
    run, out, path = scripts["higgsml_undefined"]
    assert_failed_cleanly(run, out, f"{path}: all samples together: {_UNUSABLE}: DER_mass_vis undefined (-999 in the "
                                    "file) in all 40 events")


def test_higgsml_prepare_script_string_labels_fail_cleanly(scripts):
    run, out, path = scripts["higgsml_labels"]
    assert_failed_cleanly(run, out, f"{path}: column labels must be 0 or 1 (1 signal, 0 background; values found: "
                                    "'b' (20), 's' (20); first at data row 0)")


def test_cms_ingest_script_zero_weights_fail_cleanly(scripts):
    run, out, path = scripts["cms_zero"]
    assert_failed_cleanly(run, out, f"sample 'zero' ({path}): genWeight sums to 0 over all 300 events read")


def test_cms_train_script_fit_sample_without_yield_fails_before_training(scripts, nano):
    run, out, _ = scripts["cms_train"]
    assert_failed_cleanly(run, out, _fit_sample_message(nano))
    assert "epoch" not in run.stderr  # stopped before the first epoch
