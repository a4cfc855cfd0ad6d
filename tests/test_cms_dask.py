"""The Dask ingestion (coffea processor.Runner + DaskExecutor) against the single-process one.

Three small generated ttbar files in 6 chunks, on a LocalCluster of 2 workers (threads, for CI
speed; processes work the same way): the arrays of every variation (nominal, JES, JER, TES up and
down), the cut flows, the sums, hist histograms of every feature per variation and the NaN/inf
error must be those of the iterative path.  The configs go through ``sysaware.cms.pipeline`` as
the Snakemake job does (``cms.executor``, ``cms.dask``).
"""

from __future__ import annotations

import copy

import hist
import numpy as np
import pytest
import yaml

from helpers import LOOSE, REPO
from sysaware.cms.generator.nanoaod import generate_process, write_nanoaod, write_sample
from sysaware.cms.ingestion.ingest import ingest_sample
from sysaware.cms.ingestion.nanoevents import IngestionError, scan_files
from sysaware.cms.objects.features import FEATURE_NAMES
from sysaware.cms.pipeline import executor_options, ingest, selection_config, systematics_config
from sysaware.config import load_config
from sysaware.config_checks import ConfigError, check_config

distributed = pytest.importorskip("distributed", reason="cms.executor dask needs dask[distributed]")
from sysaware.cms.ingestion.distributed import DaskOptions, work_items  # noqa: E402  (needs distributed)

STEP = 250  # 3 files x 500 events: 6 chunks


@pytest.fixture(scope="module")
def cfg(tmp_path_factory) -> dict:
    """The default tau+jets config with ttbar read from 3 generated files (validated; iterative)."""
    d = tmp_path_factory.mktemp("dask")
    files = [write_sample(d / f"ttbar_{i}.root", generate_process("ttbar", 500, seed=40 + i)) for i in range(3)]
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    raw["cms"]["samples"] = [s if s["name"] != "ttbar" else {k: v for k, v in s.items() if k != "generated"}
                             | {"files": [str(f) for f in files]} for s in raw["cms"]["samples"]]
    raw["cms"]["selection"] = dict(LOOSE)
    raw["cms"]["chunk_size"] = STEP
    (d / "c.yaml").write_text(yaml.safe_dump(raw))
    return load_config(d / "c.yaml")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def iterative(cfg):
    return ingest(cfg, "ttbar", "unused")


def _dask_cfg(cfg: dict, **dask) -> dict:
    out = copy.deepcopy(cfg)
    out["cms"]["executor"] = "dask"
    out["cms"]["dask"] = dask
    return out


def _histograms(result) -> dict[str, hist.Hist]:
    """Weighted histograms of every feature (and n_btag) per variation, as a template maker fills them."""
    out = {}
    for var, arrays in result.arrays.items():
        for f in (*FEATURE_NAMES, "n_btag"):
            lo, hi = np.percentile(result.arrays["nominal"][f], [1, 99])
            h = hist.Hist(hist.axis.Regular(20, lo, hi, name=f), storage=hist.storage.Weight())
            h.fill(arrays[f], weight=arrays["weight"])
            out[f"{var}/{f}"] = h
    return out


def test_dask_ingestion_equals_the_iterative_one(cfg, iterative, cluster):
    it = iterative
    files = cfg["cms"]["samples"][0]["files"]
    assert it.n_selected() > 30 and len(it.variations) == 7 and "is_taujets" in it.arrays["nominal"]
    assert len(work_items("ttbar", files, scan_files(files, ["Jet_pt"]), ["Jet_pt"], STEP)) == 6
    dcfg = _dask_cfg(cfg, scheduler=cluster.scheduler_address)
    assert executor_options(dcfg)[0] == "dask" and executor_options(cfg) == ("iterative", None, STEP)
    dk = ingest(dcfg, "ttbar", "unused")
    assert dk.n_events_read == it.n_events_read == 1500
    for var in it.variations:
        assert set(dk.arrays[var]) == set(it.arrays[var])
        for k, v in it.arrays[var].items():
            np.testing.assert_array_equal(dk.arrays[var][k], v, err_msg=f"{var}/{k}")  # bit for bit, same order
    assert dk.cutflows == it.cutflows
    assert dk.sum_gen_weight == it.sum_gen_weight and dk.btag_efficiencies == it.btag_efficiencies
    assert dk.nonfinite_dropped == it.nonfinite_dropped
    h_it, h_dk = _histograms(it), _histograms(dk)
    for name, h in h_it.items():
        np.testing.assert_array_equal(h_dk[name].values(), h.values(), err_msg=name)
        np.testing.assert_array_equal(h_dk[name].variances(), h.variances(), err_msg=name)
    # the JER smearing acts on these events, so its chunk independence is under test
    assert not np.array_equal(it.arrays["jer_up"]["ht"][:20], it.arrays["nominal"]["ht"][:20])


def test_dask_with_other_chunks_on_its_own_local_cluster(cfg, iterative):
    """cms.dask.chunk_size other than cms.chunk_size, and a LocalCluster started by the ingestion."""
    dcfg = _dask_cfg(cfg, workers=2, processes=False, chunk_size=400)
    assert executor_options(dcfg)[1:] == (DaskOptions(workers=2, processes=False, chunk_size=400), 400)
    dk, it = ingest(dcfg, "ttbar", "unused"), iterative
    for var in it.variations:
        for k, v in it.arrays[var].items():
            np.testing.assert_array_equal(dk.arrays[var][k], v, err_msg=f"{var}/{k}")
        for cut, c in it.cutflows[var].items():  # counts exact; weighted sums up to the summation order
            assert dk.cutflows[var][cut]["events"] == c["events"]
            assert dk.cutflows[var][cut]["weighted"] == pytest.approx(c["weighted"], rel=1e-12)


def test_dask_nan_error_is_the_iterative_one(cfg, tmp_path, cluster):
    cols = dict(generate_process("ttbar", 600, seed=41).collections)
    met = np.array(cols["MET_pt"], copy=True)
    met[[3, 4, 590]] = np.nan  # in the first and the last chunk
    cols["MET_pt"] = met
    bad = write_nanoaod(tmp_path / "nan.root", cols)
    kw = {"selection": selection_config(cfg), "systematics": systematics_config(cfg), "step_size": STEP}
    with pytest.raises(IngestionError) as a:
        ingest_sample("nan", [bad], **kw)
    with pytest.raises(IngestionError) as b:
        ingest_sample("nan", [bad], executor="dask", dask=DaskOptions(scheduler=cluster.scheduler_address), **kw)
    assert str(b.value) == str(a.value) and "3 event(s)" in str(a.value) and "MET_pt: 3" in str(a.value)


def test_bad_dask_settings_stop_at_the_config_check(cfg):
    with pytest.raises(ConfigError, match="cms.dask: workers"):
        check_config(_dask_cfg(cfg, workers=0))
    with pytest.raises(ConfigError, match="cms.dask.cluster 'pbs'"):
        check_config(_dask_cfg(cfg, cluster="pbs"))
    with pytest.raises(ConfigError, match="unknown key"):
        check_config(_dask_cfg(cfg, worker=3))
    with pytest.raises(ConfigError, match="scheduler 'my-host'"):
        check_config(_dask_cfg(cfg, scheduler="my-host"))
    check_config(_dask_cfg(cfg, cluster="slurm", cluster_options={"cores": 4, "memory": "8GB"}))
    assert DaskOptions(workers=3, threads_per_worker=2).local_threads == 6
    assert DaskOptions(scheduler="tcp://h:8786").local_threads == 0
