"""HiggsML TES study: prepared events, the methods, grid templates, pseudo-data, the shared model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import SHARED_DATA, shared_data
from sysaware.config import load_config
from sysaware.higgsml.dataset import TEMPLATES, TRAIN, TESData, drop_repeated_ids, prepare, read_events
from sysaware.higgsml.evaluate import binned_data, data_bins, data_weights, grid_templates, make_summary
from sysaware.higgsml.methods import model_names
from sysaware.higgsml.model import higgsml_spec, norm_factors, z_grid
from sysaware.higgsml.training import HiggsMLData
from sysaware.train.run import train as run_train
from sysaware.higgsml.profile import GridTemplates, ProfileModel
from sysaware.higgsml.systematics import tau_energy_scale
from sysaware.stats import Templates
from sysaware.stats.torch_model import TorchModel

CSV_HEAD = SHARED_DATA / "higgsml_atlas_2014_head.csv.gz"
PARQUET = SHARED_DATA / "fair_universe_higgsml_sample.parquet"


def _need(path: Path) -> Path:
    return shared_data(path.name)


def _config(tmp_path: Path, **higgsml) -> dict:
    raw = {
        "analysis": "higgsml_tes", "seed": 5,
        "higgsml": {"input": str(_need(CSV_HEAD)), "luminosity_scale": 35.748, "n_toys": 2,
                    "tes": {"grid": {"step": 0.03, "max": 0.06}, "true_values": [0.0, 0.03]}, **higgsml},
        "training": {"hidden": [16], "batch_size": 256, "epochs": 2, "patience": 2, "n_bins": 4},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    cfg = _config(tmp_path_factory.mktemp("hml"))
    arrays, facts = prepare(cfg)
    return cfg, arrays, facts, TESData.from_arrays(arrays, cfg)


def test_repeated_event_ids_of_the_head_are_dropped_and_counted():
    """The shared head repeats 17 events ~1,300 times; only the first row of an id is kept."""
    events = read_events(str(_need(CSV_HEAD)))
    kept, dropped = drop_repeated_ids(events)
    assert (events.n_events, kept.n_events, dropped) == (44_941, 22_889, 22_052)
    assert len(np.unique(kept.event_id)) == kept.n_events
    again, none = drop_repeated_ids(kept)
    assert none == 0 and again.n_events == kept.n_events


def test_every_split_stands_for_the_whole_yield(prepared):
    """Weights are scaled per split and sample to the sample's whole yield x luminosity_scale."""
    cfg, arrays, facts, _ = prepared
    assert facts == {"rows_read": 44_941, "repeated_id_rows_dropped": 22_052}
    events, _ = drop_repeated_ids(read_events(cfg["higgsml"]["input"]))
    for label in (0, 1):
        total = events.weight[events.label == label].sum() * 35.748
        k = 1 - label  # samples: htautau (label 1) first, then background
        for split in range(3):
            rows = (arrays["sample"] == k) & (arrays["split"] == split)
            assert arrays["weight"][rows].sum() == pytest.approx(total, rel=1e-10)
    # the split is seeded: the same config gives the same split
    again, _ = prepare(cfg)
    np.testing.assert_array_equal(again["split"], arrays["split"])
    assert abs((arrays["split"] == TRAIN).mean() - 0.5) < 0.02


def test_inputs_at_follow_the_tes_recipe_and_the_cut_after_the_shift(prepared):
    """Inputs at z are the recipe's shifted features; kept = shifted tau pT above 22 GeV; one z per row works."""
    cfg, _, _, data = prepared
    rows = data.rows(TEMPLATES)[:500]
    sub = {k: v[rows] for k, v in data.raw.items()}
    for z in (0.0, 0.04, -0.05):
        x, kept = data.inputs_at(rows, z)
        ref, _ = tau_energy_scale(sub, z, tau_pt_cut=None)
        for j, name in enumerate(data.features):
            col = np.where(np.isnan(ref[name]), data.undefined_fill, ref[name])
            np.testing.assert_allclose(x[:, j], col.astype(np.float32), rtol=1e-6)
        np.testing.assert_array_equal(kept, sub["PRI_tau_pt"] * (1 + z) > 22.0)
    zs = np.linspace(-0.05, 0.05, len(rows))
    x_each, kept_each = data.inputs_at(rows, zs)
    for i in (0, 137, 499):
        xi, ki = data.inputs_at(rows[i : i + 1], zs[i])
        np.testing.assert_allclose(x_each[i], xi[0], rtol=1e-6)
        assert kept_each[i] == ki[0]


def test_undefined_features_are_filled_and_sample_selection_errors_name_the_sample(tmp_path):
    """Jet features of 0-jet events take undefined_fill; a detailed_label selection needs a file that has one."""
    cfg = _config(tmp_path, features=["PRI_tau_pt", "PRI_jet_leading_eta"], undefined_fill=-7.0)
    arrays, _ = prepare(cfg)
    data = TESData.from_arrays(arrays, cfg)
    x, _ = data.inputs_at(np.arange(2000), 0.0)
    no_jet = np.isnan(arrays["f_PRI_jet_leading_eta"][:2000])
    assert no_jet.any() and np.all(x[no_jet, 1] == -7.0)
    bad = _config(tmp_path, samples=[{"name": "htt", "role": "signal", "detailed_label": ["htautau"]},
                                     {"name": "bkg", "role": "background", "label": 0}],
                  norm_systematics={"bkg_norm": {"size": 0.05, "samples": ["bkg"]}})
    with pytest.raises(ValueError, match="'htt' selects by detailed_label"):
        prepare(bad)


def test_fair_universe_samples_by_detailed_label(tmp_path):
    """The FAIR-Universe parquet: samples by process name, with its own feature names."""
    _need(PARQUET)
    cfg = _config(
        tmp_path, input=str(PARQUET),
        samples=[{"name": "htautau", "role": "signal", "detailed_label": ["htautau"]},
                 {"name": "ztautau", "role": "background", "detailed_label": ["ztautau"]},
                 {"name": "other", "role": "background", "detailed_label": ["ttbar", "diboson"]}],
        features=["PRI_had_pt", "PRI_lep_pt", "PRI_met", "DER_mass_vis", "DER_deltar_had_lep"],
        norm_systematics={"ztt_norm": {"size": 0.02, "samples": ["ztautau"]}},
        drop_repeated_ids=False,
    )
    arrays, _ = prepare(cfg)
    data = TESData.from_arrays(arrays, cfg)
    assert sorted(np.unique(arrays["sample"])) == [0, 1, 2]
    x, kept = data.inputs_at(np.arange(len(arrays["weight"])), 0.02)
    np.testing.assert_array_equal(kept, arrays["f_PRI_had_pt"] * 1.02 > 22.0)
    assert np.allclose(x[:, 0], arrays["f_PRI_had_pt"] * 1.02, rtol=1e-6)
    assert norm_factors(cfg) == {"ztt_norm": {"ztautau": (0.98, 1.02)}}


def train(cfg, name, data, progress=None, checkpoint=None):
    """One HiggsML model through the common training interface."""
    return run_train(cfg, HiggsMLData(cfg, data), name, 0, progress, checkpoint)


@pytest.mark.parametrize("name", ["bce", "augment", "aware", "pivot", "disco", "inferno", "true_z_1"])
def test_every_method_trains_through_the_common_loop_deterministically(prepared, name):
    """Each method trains (2 epochs) and the same seed gives the same network."""
    cfg, _, _, data = prepared
    assert name in model_names(cfg)
    net, meta, hist = train(cfg, name, data)
    net2, _, _ = train(cfg, name, data)
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(hist.valid) == 2 and all(np.isfinite(hist.valid))
    assert meta["n_outputs"] == (4 if name == "inferno" else 1)
    assert meta["z_input"] == (name == "aware")
    assert meta["true_z"] == (0.03 if name == "true_z_1" else None)


def test_determinism_of_a_resumed_training_with_adversary_state(prepared, tmp_path):
    """Interrupted after epoch 1 and resumed from the checkpoint (the pivot's adversary and its
    optimiser included): the same weights as an uninterrupted 3-epoch training.  (INFERNO's
    resume is tested on the benchmark, killed with SIGKILL: test_reliability_training.py.)"""
    name = "pivot"
    cfg, _, _, data = prepared
    cfg = {**cfg, "training": {**cfg["training"], "epochs": 3, "patience": 3}}
    ref, _, ref_hist = train(cfg, name, data)

    def stop_after_1(epoch: int, *_: float) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    ckpt = tmp_path / f"{name}.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, name, data, stop_after_1, checkpoint=ckpt)
    net, _, hist = train(cfg, name, data, checkpoint=ckpt)
    assert hist.resumed_after == 1 and hist.valid == ref_hist.valid
    for a, b in zip(net.state_dict().values(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not ckpt.exists()


def test_grid_templates_bins_and_pseudo_data(prepared):
    """Equal-signal score bins; templates at a grid z equal a direct histogram; Poisson pseudo-data."""
    cfg, _, _, data = prepared
    net, meta, _ = train(cfg, "aware", data)
    summary = make_summary(net, meta, data, 4)
    rows = data.rows(TEMPLATES)
    x0, kept0 = data.inputs_at(rows, 0.0)
    sig = data.is_signal(rows) & kept0
    per_bin = np.bincount(summary.bins(x0[sig], 0.0), weights=data.weight[rows][sig], minlength=4)
    np.testing.assert_allclose(per_bin, per_bin.sum() / 4, rtol=0.05)
    grid = z_grid(cfg["higgsml"]["tes"])
    tpl = grid_templates(summary, data, grid)
    i = int(np.flatnonzero(np.isclose(grid, 0.03))[0])
    x, kept = data.inputs_at(rows, 0.03)
    b = summary.bins(x, 0.03)
    bkg = (data.sample[rows] == 1) & kept
    np.testing.assert_allclose(tpl.yields["background"][i], np.bincount(b[bkg], data.weight[rows][bkg], 4))
    # the aware summary re-bins the data at every hypothesised z; Asimov data at the truth = templates there
    bins, kept_data = data_bins(summary, data, 0.03, grid)
    asimov = binned_data(bins, kept_data, data_weights(data, 1.0, None, 1, 5), 4)
    assert asimov.shape == (len(grid), 4)
    np.testing.assert_allclose(asimov[i], tpl.yields["htautau"][i] + tpl.yields["background"][i], rtol=1e-10)
    # Poisson multiplicities per event: the totals scatter like Poisson(sum of weights)
    w = data.weight[rows]
    totals = np.array([data_weights(data, 1.0, t, 0, 5).sum() for t in range(200)])
    assert np.all(totals == np.round(totals))
    assert abs(totals.mean() - w.sum()) < 4 * np.sqrt(w.sum() / 200)
    assert 0.7 < totals.var() / w.sum() < 1.3
    # the same toy index gives the same pseudo-data for every method (it does not depend on the model)
    np.testing.assert_array_equal(data_weights(data, 1.0, 3, 0, 5), data_weights(data, 1.0, 3, 0, 5))


def test_inferno_model_equals_the_grid_profile_on_three_points(tmp_path):
    """INFERNO's torch model (histosys +-sigma, normsys code1) is the grid likelihood on {-sigma, 0, sigma}."""
    cfg = _config(tmp_path)
    spec = higgsml_spec(cfg)
    sigma = cfg["higgsml"]["tes"]["sigma"]
    rng = np.random.default_rng(1)
    y = {"htautau": rng.uniform(5, 20, (3, 4)), "background": rng.uniform(100, 400, (3, 4))}
    grid = ProfileModel(GridTemplates(np.array([-sigma, 0.0, sigma]), y), ("htautau",), norm_factors(cfg),
                        z_sigma=sigma, z_bounds=(-3 * sigma, 3 * sigma))
    tpl = Templates(nominal={k: torch.tensor(v[1]) for k, v in y.items()},
                    sumw2={k: torch.zeros(4, dtype=torch.float64) for k in y},
                    up={"tes": {k: torch.tensor(v[2]) for k, v in y.items()}},
                    down={"tes": {k: torch.tensor(v[0]) for k, v in y.items()}})
    tm = TorchModel(spec, 4)
    assert tm.labels == ["mu", "tes", "bkg_norm"]
    data = rng.poisson(y["htautau"][1] + y["background"][1]).astype(float)
    ref = [1.0, 0.0, 0.0]
    for pars in ([1.4, 0.7, -0.3], [0.6, -1.8, 1.1], [2.0, 2.5, 0.2]):
        d_torch = float(tm.nll(torch.tensor(pars, dtype=torch.float64), torch.tensor(data), tpl)
                        - tm.nll(torch.tensor(ref, dtype=torch.float64), torch.tensor(data), tpl))
        as_z = [pars[0], pars[1] * sigma, pars[2]]
        d_grid = grid.nll(np.array(as_z), data) - grid.nll(np.array(ref), data)
        assert d_torch == pytest.approx(d_grid, rel=1e-9, abs=1e-9)
