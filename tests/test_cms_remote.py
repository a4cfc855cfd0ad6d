"""Remote NanoAOD inputs, offline: a local HTTP server (127.0.0.1, byte ranges) serves generated files.

* ``cms.remote_inputs: direct``: uproot's HTTP source reads the URL in the ingestion; the result
  must be the local file's, exactly.
* ``cms.remote_inputs: stage``: the input function wraps the URLs with Snakemake's storage
  plugins; a tiny Snakemake run downloads the file and ingests the local copy, with the local
  file's result.  ``root://`` staging needs snakemake-storage-plugin-xrootd (and the XRootD
  bindings): without them the config check says so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from helpers import REPO, snakemake_env
from http_server import serve_folder
from sysaware.cms.dataset import load_ingested
from sysaware.cms.generator.nanoaod import generate_process, write_sample
from sysaware.cms.ingestion import remote
from sysaware.cms.ingestion.ingest import ingest_sample
from sysaware.cms.ingestion.remote import RemoteInputError, job_files, rule_inputs, staging_provider
from sysaware.cms.objects.selection import SelectionConfig
from sysaware.cms.pipeline import ingest, sample_sum_weights
from sysaware.cms.samples import sum_of_weights
from sysaware.config import SCHEMA
from sysaware.config_checks import ConfigError, check_config

LOOSE = {"triggers": [], "n_jets_min": 3, "n_lead_jets_min": 2, "lead_jet_pt_min": 30.0, "tau_pt_min": 25.0,
         "n_btag_min": 0, "met_min": 10.0}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A generated ttbar file and its URL on a local HTTP server (with the server's request log)."""
    folder = tmp_path_factory.mktemp("served")
    path = write_sample(folder / "ttbar.root", generate_process("ttbar", 1000, seed=21))
    with serve_folder(folder) as (base, log):
        yield path, f"{base}/ttbar.root", log


def test_direct_url_read_by_uproot_equals_the_local_file(served):
    path, url, log = served
    kw = {"selection": SelectionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in LOOSE.items()}),
          "step_size": 400}
    n_before = len(log)
    local, remote_ = ingest_sample("tt", [path], **kw), ingest_sample("tt", [url], **kw)
    ranged = [r for r in log[n_before:] if "bytes=" in r]
    assert ranged, "uproot did not read the URL by byte ranges"
    assert remote_.files == (url,) and remote_.n_events_read == local.n_events_read == 1000
    assert local.n_selected() > 20
    for var in local.variations:
        for k, v in local.arrays[var].items():
            np.testing.assert_array_equal(remote_.arrays[var][k], v, err_msg=f"{var}/{k}")
    assert remote_.cutflows == local.cutflows and remote_.sum_gen_weight == local.sum_gen_weight
    assert sum_of_weights([url], "tt") == sum_of_weights([str(path)], "tt")


def test_rule_inputs_per_mode_and_clear_errors(monkeypatch):
    files = ["/data/a.root", "https://h.example:1094//store/b.root", "root://eos.example//eos/c.root"]
    assert rule_inputs(files, "direct") == [(None, "/data/a.root")]
    monkeypatch.setattr(remote, "_missing_modules", lambda mods: [])  # both plugins installed
    assert rule_inputs(files, "stage") == [(None, files[0]), ("http", files[1]), ("xrootd", files[2])]
    assert staging_provider("http://127.0.0.1:8000/x.root") == "http"
    with pytest.raises(RemoteInputError, match="no Snakemake storage plugin stages s3:// URLs"):
        staging_provider("s3://bucket/x.root")
    with pytest.raises(RemoteInputError, match="not in"):
        rule_inputs(files, "fetch")
    # a missing plugin: named with what to install and the alternative
    monkeypatch.setattr(remote, "_missing_modules", lambda mods: [m for m in mods if "xrootd" in m.lower()])
    with pytest.raises(RemoteInputError) as info:
        staging_provider(files[2])
    msg = str(info.value)
    assert "pip install snakemake-storage-plugin-xrootd" in msg and "cms.remote_inputs: direct" in msg
    assert staging_provider(files[1]) == "http"
    # the job gets the staged copies one for one
    sample = {"name": "s", "files": files}
    assert job_files(sample, "direct", ["x"]) is None and job_files({"name": "g", "generated": "dy"}, "stage", []) is None
    assert job_files(sample, "stage", ["1", "2", "3"]) == ["1", "2", "3"]
    with pytest.raises(RemoteInputError, match="3 file"):
        job_files(sample, "stage", ["1"])


def test_stage_with_a_missing_plugin_stops_at_the_config_check(monkeypatch):
    from sysaware.config import load_config

    cfg = load_config(REPO / "config" / "cms_opendata_2015.yaml")
    cfg["cms"]["samples"][0]["files"].append("root://eospublic.cern.ch//eos/opendata/x.root")
    check_config(cfg)  # direct: nothing to stage
    cfg["cms"]["remote_inputs"] = "stage"
    monkeypatch.setattr(remote, "_missing_modules", lambda mods: [m for m in mods if "xrootd" in m.lower()])
    with pytest.raises(ConfigError, match="staging root://eospublic.*needs the Snakemake storage plugin"):
        check_config(cfg)


def _schema_knows(key: str) -> bool:
    schema = yaml.safe_load(SCHEMA.read_text())
    return key in schema["properties"]["cms"]["properties"]


@pytest.mark.workflow
def test_snakemake_stages_https_inputs_and_ingests_the_local_copy(served, tmp_path):
    pytest.importorskip("snakemake_storage_plugin_http", reason="staging needs snakemake-storage-plugin-http")
    if not _schema_knows("remote_inputs"):
        pytest.skip("the config schema has no cms.remote_inputs yet")
    path, url, log = served
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    raw["results_dir"] = str(tmp_path / "results")
    raw["cms"]["remote_inputs"] = "stage"
    raw["cms"]["selection"] = LOOSE
    raw["cms"]["chunk_size"] = 400
    raw["cms"]["samples"] = [s if s["name"] != "ttbar" else {k: v for k, v in s.items() if k != "generated"}
                             | {"files": [url]} for s in raw["cms"]["samples"]]
    cfg_path = tmp_path / "stage.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    target = tmp_path / "results" / "cms_ttbar_taujets" / "ingested" / "ttbar.npz"
    cmd = [sys.executable, "-m", "snakemake", str(target), "--snakefile", str(REPO / "Snakefile"), "--nolock",
           "--cores", "1", "--configfile", str(cfg_path)]
    env = snakemake_env() | {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    n_before = len(log)
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rule cms_ingest" in run.stderr and "rule cms_generate" not in run.stderr  # no generator for ttbar
    # Snakemake fetched the whole file (a GET without a byte range) before the job
    assert any(r.startswith("GET /ttbar.root") and "bytes=" not in r for r in log[n_before:]), log[n_before:]
    meta = json.loads(target.with_suffix(".json").read_text())
    assert meta["staged_from"] == [url]
    assert ".snakemake/storage/http/127.0.0.1" in meta["files"][0] and "://" not in meta["files"][0]
    # the job read the copy: its result is the local file's
    run_cfg = json.loads((target.parents[1] / "config" / "data.json").read_text())["config"]
    local = ingest(run_cfg, "ttbar", "unused", files=[str(path)])
    got = load_ingested(target)
    for var, arrays in local.arrays.items():
        for k, v in arrays.items():
            np.testing.assert_array_equal(got[var][k], v, err_msg=f"{var}/{k}")
    assert meta["cutflows"] == local.cutflows
    assert meta["sum_weights"] == sample_sum_weights(run_cfg, "ttbar", "unused", files=[str(path)])
