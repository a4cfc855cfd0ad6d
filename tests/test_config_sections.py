"""A config holds the sections of its own analysis only (src/sysaware/config.py prepare_config), the
registry finds every analysis by its package (src/sysaware/analyses.py), and each stage reads its
own slice of the config (src/sysaware/stages.py)."""

from __future__ import annotations

import copy
import textwrap

import pytest
import yaml

from helpers import REPO
from sysaware import analyses
from sysaware.config import ConfigError, load_config, prepare_config
from sysaware.stages import STAGES, stage_config


def _raw(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_a_cms_config_holds_only_its_own_sections_and_methods():
    cfg = load_config(REPO / "config" / "config.yaml")
    assert set(cfg) == {"analysis", "seed", "results_dir", "threads", "cms", "training", "methods", "fit"}
    assert "true_z" not in cfg["methods"] and set(cfg["methods"]) == {"bce", "augment", "aware", "pivot", "disco", "inferno"}
    hml = load_config(REPO / "config" / "higgsml_tes_quick.yaml")
    assert "fit" not in hml and "cms" not in hml and "true_z" in hml["methods"]
    refit = load_config(REPO / "config" / "refit_example.yaml")
    assert set(refit) == {"analysis", "seed", "results_dir", "threads", "refit", "fit"}


@pytest.mark.parametrize("base, key, value, message", [
    ("config.yaml", "benchmark", {"n_train": 1000},
     "benchmark: analysis cms_ttbar_taujets does not read this section"),
    ("config.yaml", "reference_dir", "../shared/reference",
     "reference_dir: analysis cms_ttbar_taujets does not read this section"),
    ("higgsml_tes_quick.yaml", "fit", {"prune_threshold": 0.01},
     "fit: analysis higgsml_tes does not read this section"),
    ("refit_example.yaml", "training", {"epochs": 3}, "training: analysis refit does not read this section"),
    ("config.yaml", "methods", {"true_z": {"enabled": True}},
     "methods.true_z: analysis cms_ttbar_taujets cannot train true_z"),
])
def test_an_option_the_analysis_does_not_use_is_an_error_naming_it(base, key, value, message):
    cfg = _raw(base) | {key: value}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        prepare_config(cfg)


def test_without_jes_the_cms_analysis_refuses_the_z_methods():
    cfg = _raw("config.yaml")
    cfg["cms"]["shape_systematics"] = ["tes"]
    cfg["methods"] = {"bce": {"enabled": True}, "disco": {"enabled": True}}
    with pytest.raises(ConfigError, match=r"methods\.disco: analysis cms_ttbar_taujets cannot train disco .*\['bce', 'inferno'\]"):
        prepare_config(cfg)


def test_stage_slices_leave_out_what_a_stage_does_not_read():
    cfg = load_config(REPO / "config" / "config.yaml")
    entry = analyses.analysis("cms_ttbar_taujets")
    data = stage_config(cfg, entry, "data")
    assert set(data) == {"analysis", "seed", "cms"} and "norm_systematics" not in data["cms"]
    # the same config in another results folder: the same slices
    moved = copy.deepcopy(cfg) | {"results_dir": "/elsewhere"}
    assert all(stage_config(moved, entry, s) == stage_config(cfg, entry, s) for s in STAGES)
    train = stage_config(cfg, entry, "train", "inferno")
    assert "fit" not in train and list(train["methods"]) == ["inferno"] and "norm_systematics" in train["cms"]
    fit = stage_config(cfg, entry, "fit_inputs", "bce")
    assert fit["fit"] == cfg["fit"] and list(fit["methods"]) == ["bce"]
    reordered = copy.deepcopy(cfg)
    reordered["cms"] = dict(reversed(list(reordered["cms"].items())))
    assert all(list(stage_config(reordered, entry, s)) == list(stage_config(cfg, entry, s)) for s in STAGES)
    assert repr(stage_config(reordered, entry, "train", "bce")) == repr(stage_config(cfg, entry, "train", "bce"))
    refit = load_config(REPO / "config" / "refit_example.yaml")
    one = stage_config(refit, analyses.analysis("refit"), "fit_inputs", "bce")
    assert list(one["refit"]["fits"]) == ["bce"]


def test_a_new_analysis_is_a_package_with_an_analysis_module(tmp_path, monkeypatch):
    """The registry finds an analysis by its package's ``analysis`` module: adding one edits no
    shared Python file (its rules and its schema section aside)."""
    import sysaware

    pkg = tmp_path / "toyana"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A toy analysis."""\n')
    (pkg / "analysis.py").write_text(textwrap.dedent('''
        from sysaware.analyses import Analysis

        def targets(cfg):
            return ["toy.json"]

        def names(cfg):
            return ["only"]

        ANALYSIS = Analysis(name="toy_analysis", package="sysaware.toyana", rules="toy.smk",
                            method_names="sysaware.toyana.analysis:names", targets="sysaware.toyana.analysis:targets",
                            shared_fit=False, sections=("toy",))
    '''))
    monkeypatch.setattr(sysaware, "__path__", [*sysaware.__path__, str(tmp_path)])
    analyses._discover.cache_clear()
    try:
        entry = analyses.analysis("toy_analysis")
        assert entry.result_files({}) == ["toy.json"] and entry.methods({}) == ["only"]
        assert set(analyses.ANALYSES) == {"cms_ttbar_taujets", "higgsml_tes", "inferno_benchmark", "refit", "toy_analysis"}
    finally:
        analyses._discover.cache_clear()
        import sys
        for name in [m for m in sys.modules if m.startswith("sysaware.toyana")]:
            del sys.modules[name]
