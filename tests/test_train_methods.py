"""The one training-method interface: every method defined once (sysaware.train.methods), found by
the registry, available in every analysis whose data provide what it needs, and a new method is one
new module."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import with_defaults
from sysaware.benchmark import methods as benchmark_methods
from sysaware.benchmark import pipeline as P
from sysaware.benchmark.training import BenchmarkData
from sysaware.cms import methods as cms_methods
from sysaware.higgsml import methods as higgsml_methods
from sysaware.train import methods as M
from sysaware.train.run import train

REPO = Path(__file__).resolve().parents[1]
ALL = ["bce", "augment", "aware", "pivot", "disco", "inferno", "true_z"]
BENCH = with_defaults({
    "analysis": "inferno_benchmark", "seed": 5,
    "benchmark": {"n_train": 1000, "n_valid": 500, "n_test": 2000},
    "training": {"hidden": [8], "batch_size": 200, "epochs": 2, "patience": 2},
    "methods": {"inferno": {"trained_under": [2, 4]}},
})


def test_every_method_is_defined_once_and_listed_in_order():
    assert list(M.all_methods()) == ALL
    for name, m in M.all_methods().items():
        module = sys.modules[f"sysaware.train.methods.{name}"]
        assert module.METHOD is m and m.doc and set(m.requires) <= set(M.CAPABILITIES)
    assert M.get("aware").z_input and M.get("inferno").summary == "histogram" and M.get("true_z").z == "true"
    with pytest.raises(ValueError, match="unknown training method 'focal' .*known: \\['bce'"):
        M.get("focal")


def test_listing_methods_imports_no_torch():
    code = ("import sys; from sysaware.train.methods import all_methods; from sysaware.cms import methods; "
            "from sysaware.higgsml import methods; from sysaware.benchmark import methods; all_methods(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "False"


def test_each_analysis_trains_what_its_data_support():
    assert benchmark_methods.method_names(BENCH) == [
        "bce", "augment", "aware", "pivot", "disco", "inferno_bm2", "inferno_bm4", "true_z_0"]
    cms = {"cms": {"shape_systematics": ["jes", "tes"]}, "methods": {m: {"enabled": True} for m in ALL}}
    assert cms_methods.method_names(cms) == ["bce", "augment", "aware", "pivot", "disco", "inferno"]  # no true values
    cms["cms"]["shape_systematics"] = ["tes"]
    assert cms_methods.method_names(cms) == ["bce", "inferno"]  # no JES: no z to train with
    hml = with_defaults({"analysis": "higgsml_tes", "seed": 1, "higgsml": {"input": "x.csv"}})
    assert higgsml_methods.model_names(hml)[-3:] == ["true_z_0", "true_z_1", "true_z_2"]
    hml["methods"]["pivot"]["enabled"] = False
    assert "pivot" not in higgsml_methods.model_names(hml)


def test_a_new_method_is_one_new_module(tmp_path, monkeypatch):
    """A method written as one module beside the others is listed by every analysis that supports it
    and trains through the common loop: nothing else is edited (its schema entry aside, which this
    test, working on an already validated config, does without)."""
    (tmp_path / "logit_l2.py").write_text(textwrap.dedent('''
        """``logit_l2``: cross-entropy plus lambda times the mean squared logit (a toy penalty)."""
        from sysaware.train.methods.base import Method

        def penalty(options, learners):
            lam = float(options.get("lam", 0.1))
            return lambda net, x, y, w, z, epoch, training: lam * (net(x) ** 2).mean()

        METHOD = Method(name="logit_l2", order=10, penalty=penalty, doc="cross-entropy plus lambda mean(f^2)")
    '''))
    monkeypatch.setattr(M, "__path__", [*M.__path__, str(tmp_path)])  # the folder of the package's modules
    M.all_methods.cache_clear()
    try:
        assert list(M.all_methods())[-1] == "logit_l2"
        assert benchmark_methods.method_names(BENCH)[-1] == "logit_l2"
        data = P.make_data(BENCH)
        net, meta, hist = train(BENCH, BenchmarkData(BENCH, data), "logit_l2")
        assert meta["method"] == "logit_l2" and len(hist.train) == 2
    finally:
        sys.modules.pop("sysaware.train.methods.logit_l2", None)
        M.all_methods.cache_clear()


def test_unknown_model_names_the_models_the_config_trains():
    with pytest.raises(ValueError, match=r"unknown model 'inferno_bm3'; this config trains \['bce', .*'inferno_bm2'"):
        train(BENCH, BenchmarkData(BENCH, P.make_data(BENCH)), "inferno_bm3")
