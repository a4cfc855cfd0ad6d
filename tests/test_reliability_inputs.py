"""Bad inputs fail loudly, naming the culprit, and leave nothing behind (issue 7, item 2).

Every case goes through the functions the stage scripts call (``sysaware.cms.pipeline.ingest``
for ``scripts/cms_ingest.py``, ``sysaware.higgsml.dataset.prepare`` for
``scripts/higgsml_prepare.py``), and a representative set through the scripts themselves: exit
status 1, the message in the log (stderr), no output file and no temporary file left.

Inputs are made here: NanoAOD files of the built-in generator (300 ttbar events), edited with
awkward and written with uproot (NaN/inf values, a dropped branch, taus below threshold), cut
short or overwritten with junk; and a small synthetic ATLAS-format HiggsML CSV.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot
import yaml

from sysaware.cms.dataset import fit_samples_of
from sysaware.cms.generator import nanoaod as G
from sysaware.cms.ingestion.ingest import ingest_sample
from sysaware.cms.ingestion.nanoevents import IngestionError
from sysaware.cms.model import SIGNAL
from sysaware.cms.objects.features import FEATURE_NAMES
from sysaware.cms.objects.selection import SelectionConfig
from sysaware.cms.pipeline import ingest, sample_sum_weights, write_ingestion
from sysaware.config import load_config
from sysaware.higgsml.dataset import prepare
from sysaware.higgsml.io import HiggsMLInputError

from helpers import LOOSE, REPO, assert_failed_cleanly, atlas_csv, set_first, with_field

N_EVENTS = 300
CMS_CASES = ("good", "missing", "truncated", "corrupt", "bad_basket", "no_tau_pt", "nan", "soft_taus")


# --------------------------------------------------------------------------- CMS inputs


@pytest.fixture(scope="module")
def nano(tmp_path_factory) -> dict[str, Any]:
    """Good and bad NanoAOD files, and the events given NaN/inf values (0-based entry numbers)."""
    d = tmp_path_factory.mktemp("nano")
    sample = G.generate_process("ttbar", N_EVENTS, 11)
    cols = dict(sample.collections)
    good = G.write_sample(d / "good.root", sample)
    raw = good.read_bytes()
    (d / "truncated.root").write_bytes(raw[: len(raw) // 2])
    (d / "corrupt.root").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    # a readable file whose Tau_pt basket is overwritten: the ROOT structure is intact, the data are not
    with uproot.open(good) as f:
        key = f["Events"]["Tau_pt"].basket_key(0)
        start = int(f["Events"]["Tau_pt"].member("fBasketSeek")[0]) + key.fKeylen
    junk = bytearray(raw)
    junk[start : start + 64] = b"\xff" * 64
    (d / "bad_basket.root").write_bytes(bytes(junk))

    runs = {"run": np.array([1]), "genEventCount": np.array([N_EVENTS]), "genEventSumw": np.array([float(N_EVENTS)]),
            "genEventSumw2": np.array([float(N_EVENTS)])}

    def write(name: str, **changes: Any) -> Path:
        return G.write_nanoaod(d / name, cols | changes, runs=runs)

    write("no_tau_pt.root", Tau=with_field(cols["Tau"], "pt", None))
    # NaN Tau_pt in 3 events, NaN Jet_pt in 2 (one of them also with the NaN tau), inf MET_pt in 1: 5 events,
    # 4 of them selected in the clean file, spread over the file (first, middle and last chunk of 100)
    events = ak.to_numpy(cols["event"])
    loose = SelectionConfig(**(LOOSE | {"triggers": ()}))
    clean = ingest_sample("good", [good], selection=loose, variations=("nominal",))
    selected = np.searchsorted(events, clean.arrays["nominal"]["event"])
    has_tau = np.flatnonzero(ak.to_numpy(ak.num(cols["Tau"].pt, axis=1)) > 0)
    mid = selected[len(selected) // 2]
    tau_bad = np.array([selected[0], mid, np.setdiff1d(has_tau, selected)[0]])
    jet_bad = np.array([mid, selected[-1]])
    met_bad = np.array([selected[-3]])
    assert selected[0] < 100 <= mid < 200 <= selected[-3]
    met = cols["MET_pt"].copy()
    met[met_bad] = np.inf
    write("nan.root", Tau=with_field(cols["Tau"], "pt", set_first(cols["Tau"].pt, tau_bad, np.nan)),
          Jet=with_field(cols["Jet"], "pt", set_first(cols["Jet"].pt, jet_bad, np.nan)), MET_pt=met)
    # every tau far below the 25 GeV threshold: no event can pass the one-tau cut
    write("soft_taus.root", Tau=with_field(cols["Tau"], "pt", ak.ones_like(cols["Tau"].pt)))
    bad_events = np.unique(np.concatenate([tau_bad, jet_bad, met_bad]))
    return {"folder": d, "path": {c: d / f"{c}.root" for c in CMS_CASES}, "bad": bad_events,
            "event": events}


@pytest.fixture(scope="module")
def cms_cfg(nano, tmp_path_factory) -> dict[str, Any]:
    """The default tau+jets config (validated) with one sample per input file and a loose selection."""
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    raw["results_dir"] = str(tmp_path_factory.mktemp("results"))
    # the good sample is the signal, fitted as the sample mu scales (a fit model must exist: fit options are checked)
    raw["cms"]["samples"] = [{"name": c, "role": "signal" if c == "good" else "background", "files": [str(p)],
                              "xsec_pb": 1.0} | ({"fit_sample": SIGNAL} if c == "good" else {})
                             for c, p in nano["path"].items()] + [
                            {"name": "data", "role": "data", "files": [str(nano["path"]["good"])]}]
    raw["cms"]["norm_systematics"] = {}  # they name the default config's fit samples
    raw["cms"]["selection"] = dict(LOOSE)
    raw["cms"]["chunk_size"] = 1000  # one chunk (the NaN test takes three)
    path = tmp_path_factory.mktemp("cfg") / "cms.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def _drop(cfg: dict[str, Any], section: str) -> dict[str, Any]:
    """``cfg`` with ``<section>.nan_policy: drop``."""
    out = copy.deepcopy(cfg)
    out[section]["nan_policy"] = "drop"
    return out


def test_cms_missing_file_names_the_path(nano, cms_cfg):
    with pytest.raises(IngestionError, match=r"^NanoAOD file not found: .*missing\.root$"):
        ingest(cms_cfg, "missing", nano["folder"])


def test_cms_corrupt_truncated_file_names_the_file_and_sizes(nano, cms_cfg):
    size = nano["path"]["truncated"].stat().st_size
    full = nano["path"]["good"].stat().st_size
    with pytest.raises(IngestionError) as info:
        ingest(cms_cfg, "truncated", nano["folder"])
    assert str(info.value) == (f"{nano['path']['truncated']} is truncated: {size} bytes on disk, its ROOT header "
                               f"says {full} (an interrupted copy or download?)")


def test_cms_corrupt_file_names_the_file(nano, cms_cfg):
    with pytest.raises(IngestionError, match=r"^cannot read .*corrupt\.root as a ROOT file \("):
        ingest(cms_cfg, "corrupt", nano["folder"])


def test_cms_corrupt_basket_names_the_file_and_entries(nano, cms_cfg):
    """Intact ROOT structure, junk in the Tau_pt data: the read fails naming file and entry range."""
    expected = r"^cannot read entries 0-300 of .*bad_basket\.root \(ValueError: unrecognized compression algorithm"
    with pytest.raises(IngestionError, match=expected):
        ingest(cms_cfg, "bad_basket", nano["folder"])


def test_cms_missing_branch_names_branch_and_file(nano, cms_cfg):
    with pytest.raises(IngestionError, match=r"^.*no_tau_pt\.root lacks required branch Tau_pt in tree 'Events'$"):
        ingest(cms_cfg, "no_tau_pt", nano["folder"])


def test_cms_nan_and_inf_raise_naming_branches_file_and_counts(nano, cms_cfg):
    cfg = copy.deepcopy(cms_cfg)
    cfg["cms"]["chunk_size"] = 100  # the counts add up over chunks, also after the first bad one
    with pytest.raises(IngestionError) as info:
        ingest(cfg, "nan", nano["folder"])
    assert str(info.value) == (
        f"sample 'nan': NaN or inf in 5 event(s) of {nano['path']['nan']} (Jet_pt: 2, Tau_pt: 3, MET_pt: 1); "
        "nan_policy 'drop' (config cms.nan_policy) removes such events, counted and logged"
    )


def test_cms_nan_policy_drop_counts_logs_and_records_them(nano, cms_cfg, tmp_path, caplog):
    cfg = _drop(cms_cfg, "cms")
    with caplog.at_level(logging.WARNING, logger="sysaware"):
        result = ingest(cfg, "nan", nano["folder"])
    assert result.nonfinite_dropped == {"events": 5, "branches": {"Jet_pt": 2, "Tau_pt": 3, "MET_pt": 1},
                                        "files": {str(nano["path"]["nan"]): 5}}
    assert "NaN or inf in 5 event(s)" in caplog.text and "5 of 300 events read dropped" in caplog.text
    assert result.n_events_read == N_EVENTS
    assert all(flow["all"]["events"] == N_EVENTS - 5 for flow in result.cutflows.values())
    # the other events are ingested exactly as from the clean file
    clean = ingest(cms_cfg, "good", nano["folder"]).arrays["nominal"]
    keep = ~np.isin(clean["event"], nano["event"][nano["bad"]])
    assert keep.sum() < len(keep)  # some of the spoilt events would have been selected
    got = result.arrays["nominal"]
    np.testing.assert_array_equal(got["event"], clean["event"][keep])
    for f in FEATURE_NAMES:
        np.testing.assert_array_equal(got[f], clean[f][keep], err_msg=f)
    # and recorded in the stage's JSON
    npz = tmp_path / "ingested" / "nan.npz"
    write_ingestion(result, npz, npz.with_suffix(".json"), sample_sum_weights(cfg, "nan", nano["folder"]))
    meta = json.loads(npz.with_suffix(".json").read_text())
    assert meta["nonfinite_dropped"]["events"] == 5 and meta["nonfinite_dropped"]["branches"]["Tau_pt"] == 3


def test_cms_zero_selected_events_names_sample_file_and_cut_flow(nano, cms_cfg):
    with pytest.raises(IngestionError) as info:
        ingest(cms_cfg, "soft_taus", nano["folder"])
    msg = str(info.value)
    assert msg.startswith(f"sample 'soft_taus': no event passes the nominal selection (300 events read from "
                          f"1 file(s): {nano['path']['soft_taus']}; cut flow: all=300, trigger=300, ")
    assert "one_tau=0" in msg and msg.endswith("btag=0)")


def _ingested(n: int, taujets: bool | None = None, nan_in: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Ingested-like nominal arrays of ``n`` events (all tau+jets, or none, when ``taujets`` is set)."""
    rng = np.random.default_rng(3)
    d = {f: rng.uniform(0.1, 100, n) for f in FEATURE_NAMES}
    if nan_in:
        d[nan_in][[1, 4]] = np.nan
    d |= {"run": np.ones(n, np.uint32), "luminosityBlock": np.ones(n, np.uint32),
          "event": np.arange(n, dtype=np.uint64), "weight": np.ones(n), "weight_gen": np.ones(n)}
    if taujets is not None:
        d["is_taujets"] = np.full(n, taujets)
    return {"nominal": d}


def test_cms_zero_events_in_one_part_of_a_split_sample_names_it():
    """A ttbar sample with no ttbar_other event would give empty templates: an error at template time."""
    with pytest.raises(ValueError) as info:
        fit_samples_of("ttbar", _ingested(20, taujets=True), 1.0, 1, {"train": 0.5, "valid": 0.1}, split_ttbar=True)
    assert str(info.value) == ("sample 'ttbar': none of its 20 selected events is ttbar_other; "
                               "the templates of 'ttbar_other' would be empty")


def test_cms_nan_feature_at_training_names_sample_feature_and_count():
    with pytest.raises(ValueError) as info:
        fit_samples_of("vjets", _ingested(20, nan_in="mt"), 1.0, 1, {"train": 0.5, "valid": 0.1})
    assert str(info.value) == "sample 'vjets' nominal: non-finite values in features (events: {'mt': 2})"


# --------------------------------------------------------------------------- HiggsML inputs

def _spoil(df: pd.DataFrame) -> pd.DataFrame:
    """NaN DER_pt_h in rows 3 and 8, inf PRI_met in rows 8 and 12: 3 rows."""
    df.loc[[3, 8], "DER_pt_h"] = np.nan
    df["PRI_met"] = df["PRI_met"].astype(object)
    df.loc[[8, 12], "PRI_met"] = "inf"
    return df


def _inf_only(df: pd.DataFrame) -> pd.DataFrame:
    """inf PRI_met in rows 8 and 12, no NaN."""
    df = _spoil(df)
    df["DER_pt_h"] = df["DER_pt_h"].fillna(1.0)
    return df


@pytest.fixture(scope="module")
def hml(tmp_path_factory) -> dict[str, Any]:
    """Good and bad CSVs and the validated config of the good one."""
    d = tmp_path_factory.mktemp("hml")
    paths = {
        "good": atlas_csv(d / "good.csv"),
        "missing": d / "nope.csv",
        "no_column": atlas_csv(d / "no_tau_pt.csv", edit=lambda df: df.drop(columns=["PRI_tau_pt"])),
        "nan": atlas_csv(d / "nan.csv", edit=_spoil),
        "inf_only": atlas_csv(d / "inf.csv", edit=_inf_only),
        "background_only": atlas_csv(d / "bkg_only.csv", edit=lambda df: df.assign(Label="b")),
    }
    gz = d / "good.csv.gz"
    pd.read_csv(paths["good"]).to_csv(gz, index=False, compression="gzip")
    data = gz.read_bytes()
    paths["truncated"] = d / "truncated.csv.gz"
    paths["truncated"].write_bytes(data[: len(data) // 2])
    raw = {"analysis": "higgsml_tes", "seed": 5, "higgsml": {"input": str(paths["good"])}}
    (d / "cfg.yaml").write_text(yaml.safe_dump(raw))
    return {"folder": d, "path": paths, "cfg": load_config(d / "cfg.yaml")}


def _hcfg(hml: dict[str, Any], case: str, **higgsml: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(hml["cfg"])
    cfg["higgsml"] |= {"input": str(hml["path"][case]), **higgsml}
    return cfg


def test_higgsml_good_csv_prepares(hml):
    arrays, facts = prepare(_hcfg(hml, "good"))
    assert facts == {"rows_read": 40, "repeated_id_rows_dropped": 0} and len(arrays["weight"]) == 40


def test_higgsml_missing_file_names_the_path(hml):
    with pytest.raises(HiggsMLInputError) as info:
        prepare(_hcfg(hml, "missing"))
    assert str(info.value) == f"{hml['path']['missing']}: file not found"


def test_higgsml_corrupt_truncated_gzip_names_the_file(hml):
    with pytest.raises(HiggsMLInputError, match=r"truncated\.csv\.gz: cannot read as CSV \(EOFError: Compressed file"):
        prepare(_hcfg(hml, "truncated"))


def test_higgsml_missing_column_names_column_and_file(hml):
    with pytest.raises(HiggsMLInputError) as info:
        prepare(_hcfg(hml, "no_column"))
    assert str(info.value) == f"{hml['path']['no_column']}: missing required column(s) PRI_tau_pt"


_NAN_NOTE = "column DER_pt_h has 2 non-finite value(s) (first at data row 3: nan)"
_INF_NOTE = "column PRI_met has 2 non-finite value(s) (first at data row 8: inf)"


@pytest.mark.parametrize(("case", "detail"), [("nan", f"3 row(s) with NaN or inf features: {_NAN_NOTE}, {_INF_NOTE}"),
                                              ("inf_only", f"2 row(s) with NaN or inf features: {_INF_NOTE}")])
def test_higgsml_nan_or_inf_feature_raises_naming_columns_file_and_counts(hml, case, detail):
    with pytest.raises(HiggsMLInputError) as info:
        prepare(_hcfg(hml, case))
    assert str(info.value) == (f"{hml['path'][case]}: {detail}; higgsml.nan_policy 'drop' removes such rows, "
                               "counted and logged")


def test_higgsml_nan_policy_drop_counts_and_logs_and_keeps_undefined(hml, caplog):
    with caplog.at_level(logging.WARNING, logger="sysaware"):
        arrays, facts = prepare(_hcfg(hml, "nan", nan_policy="drop"))
    assert facts == {"rows_read": 40, "nonfinite_rows_dropped": 3,
                     "nonfinite_by_column": {"DER_pt_h": 2, "PRI_met": 2}, "repeated_id_rows_dropped": 0}
    assert "3 of 40 rows have NaN or inf feature values and are dropped" in caplog.text
    assert sorted(set(range(100_000, 100_040)) - set(arrays["event_id"].tolist())) == [100_003, 100_008, 100_012]
    # the -999 ("undefined") jet entries are not counted as bad: they stay, as NaN
    kept = [i for i in range(40) if i not in (3, 8, 12)]
    assert np.isnan(arrays["f_PRI_jet_leading_pt"]).sum() == sum(i % 3 == 0 for i in kept) == 12
    assert all(np.isfinite(v[~np.isnan(v)]).all() for k, v in arrays.items() if k.startswith("f_"))


def test_higgsml_sample_with_no_events_names_sample_and_file(hml):
    with pytest.raises(HiggsMLInputError) as info:
        prepare(_hcfg(hml, "background_only"))
    assert str(info.value) == (f"{hml['path']['background_only']}: sample 'htautau' has no events "
                               "(label == 1 selects none of the 40 rows)")


def test_higgsml_unknown_nan_policy_is_refused(hml):
    with pytest.raises(ValueError, match="higgsml.nan_policy 'skip' not in"):
        prepare(_hcfg(hml, "good", nan_policy="skip"))


# --------------------------------------------------------------------------- the scripts


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def scripts(nano, cms_cfg, hml, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Run the stage scripts (two at a time; each takes some 5 s, mostly imports): case -> (process, output folder).

    One failing and one ``nan_policy: drop`` run per script; the other bad inputs take the same
    path through the scripts (one ``except`` around the stage function) and are tested in-process.
    """
    d = tmp_path_factory.mktemp("scripts")
    jobs: dict[str, tuple[str, list[str], Path]] = {}
    for case, cfg in [("nan", cms_cfg), ("nan_drop", _drop(cms_cfg, "cms"))]:
        out = d / f"cms_{case}"
        (out / "config.json").parent.mkdir()
        (out / "config.json").write_text(json.dumps({"config": cfg}))
        sample = "nan" if case == "nan_drop" else case
        args = ["--config", str(out / "config.json"), "--sample", sample, "--generated", str(nano["folder"]),
                "--out", str(out / "ingested" / f"{sample}.npz")]
        jobs[f"cms_{case}"] = ("cms_ingest.py", args, out)
    for case, cfg in [("no_column", _hcfg(hml, "no_column")), ("nan_drop", _hcfg(hml, "nan", nan_policy="drop"))]:
        out = d / f"higgsml_{case}"
        out.mkdir()
        (out / "config.json").write_text(json.dumps({"config": cfg}))
        jobs[f"higgsml_{case}"] = ("higgsml_prepare.py", ["--config", str(out / "config.json"), "--out",
                                                          str(out / "prepared" / "events.npz"), "--summary",
                                                          str(out / "prepared" / "summary.json")], out)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {k: pool.submit(_script, script, *args) for k, (script, args, _) in jobs.items()}
        return {k: (f.result(), jobs[k][2]) for k, f in runs.items()}


def _failed_cleanly(run: subprocess.CompletedProcess, out: Path, message: str) -> None:
    """Exit status 1, the traceback in the log and ``message`` on its last (ERROR) line and on stdout,
    nothing but the config written."""
    assert_failed_cleanly(run, out, message)


def test_cms_ingest_script_nan_fails_cleanly(scripts, nano):
    run, out = scripts["cms_nan"]
    _failed_cleanly(run, out, f"sample 'nan': NaN or inf in 5 event(s) of {nano['path']['nan']} "
                              "(Jet_pt: 2, Tau_pt: 3, MET_pt: 1)")


def test_cms_ingest_script_nan_policy_drop_records_the_count(scripts, nano):
    run, out = scripts["cms_nan_drop"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING" in run.stderr and "5 of 300 events read dropped (nan_policy 'drop')" in run.stderr
    meta = json.loads((out / "ingested" / "nan.json").read_text())
    assert meta["nonfinite_dropped"] == {"events": 5, "branches": {"Jet_pt": 2, "Tau_pt": 3, "MET_pt": 1},
                                         "files": {str(nano["path"]["nan"]): 5}}
    assert (out / "ingested" / "nan.npz").is_file() and not list(out.rglob("*.tmp*"))


def test_higgsml_prepare_script_missing_column_fails_cleanly(scripts, hml):
    run, out = scripts["higgsml_no_column"]
    _failed_cleanly(run, out, f"{hml['path']['no_column']}: missing required column(s) PRI_tau_pt")


def test_higgsml_prepare_script_nan_policy_drop_records_the_count(scripts):
    run, out = scripts["higgsml_nan_drop"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert ("3 of 40 rows have NaN or inf feature values and are dropped (nan_policy 'drop'): DER_pt_h 2, PRI_met 2"
            in run.stderr)
    summary = json.loads((out / "prepared" / "summary.json").read_text())
    assert summary["nonfinite_rows_dropped"] == 3 and summary["events"] == 37
    assert summary["nonfinite_by_column"] == {"PRI_met": 2, "DER_pt_h": 2}
    assert (out / "prepared" / "events.npz").is_file() and not list(out.rglob("*.tmp*"))
