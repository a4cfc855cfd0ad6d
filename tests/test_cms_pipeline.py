"""The tau+jets chain on small generated samples: truth labels, pairing, split, model, INFERNO templates, ONNX.

Independent references: the generator's own decay record (``composition``) for the tau+jets
label, a per-event loop over the raw branches of the real file, a dictionary join for the
nominal/shifted pairing, and ``hist`` hard templates (the fit's path) for the cold limit of the
soft templates inside the INFERNO loss.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import uproot
import yaml

from helpers import REPO, SHARED_DATA, tiny_config
from sysaware.cms.dataset import pair_rows
from sysaware.cms.fit_inputs import fit_inputs
from sysaware.cms.generator.nanoaod import generate_process
from sysaware.cms.ingestion.nanoevents import iterate_events
from sysaware.cms.model import cms_spec, fit_samples
from sysaware.cms.objects.truth import TRUTH_BRANCHES, ttbar_labels
from sysaware.cms.onnx_export import export_onnx
from sysaware.cms.pipeline import generate, ingest, load_samples, sample_sum_weights, write_ingestion
from sysaware.cms.samples import split_labels
from sysaware.cms.training import CMSData, _Split
from sysaware.train.run import train
from sysaware.train.templates import soft_templates
from sysaware.config import load_config
from sysaware.stats.pyhf_export import to_pyhf_model
from sysaware.stats.torch_model import TorchModel

NANO = SHARED_DATA / "cms_opendata_2015_ttbar_nanoaod_200evts.root"


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """Generated files, ingested samples and the validated tiny config."""
    folder = tmp_path_factory.mktemp("cms")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config("cms_tiny", folder / "results")))
    cfg = load_config(path)
    gen = folder / "generated"
    generate(cfg, gen)
    paths = {}
    for s in cfg["cms"]["samples"]:
        result = ingest(cfg, s["name"], gen)
        paths[s["name"]] = folder / "ingested" / f"{s['name']}.npz"
        write_ingestion(result, paths[s["name"]], paths[s["name"]].with_suffix(".json"),
                        sample_sum_weights(cfg, s["name"], gen))
    samples, observed = load_samples(cfg, paths)
    return cfg, samples, observed, gen


def test_taujets_label_equals_the_generator_record(tmp_path):
    sample = generate_process("ttbar", 3000, seed=11)
    from sysaware.cms.generator.nanoaod import write_sample

    path = write_sample(tmp_path / "ttbar.root", sample)
    n = 0
    for _, events in iterate_events([path], TRUTH_BRANCHES, 100_000):
        n += int(ttbar_labels(events)["is_taujets"].sum())
    assert n == sample.composition["signal"]
    assert 0.05 < n / 3000 < 0.2  # BR(tau_h + jets) ~ 0.1 before any selection


def test_nanoaod_real_taujets_label_matches_a_plain_loop():
    if not NANO.is_file():
        pytest.skip(f"real NanoAOD sample {NANO} not found (set SYSAWARE_SHARED)")
    raw = uproot.open(NANO)["Events"].arrays(list(TRUTH_BRANCHES)).to_list()
    expected = []
    for ev in raw:
        hard = [(f & 1) and (f & 256) and (f & 8192) for f in ev["GenPart_statusFlags"]]
        pdg = [abs(p) for p in ev["GenPart_pdgId"]]
        n_lep = sum(1 for h, p in zip(hard, pdg) if h and p in (11, 13))
        taus = {i for i, (h, p) in enumerate(zip(hard, pdg)) if h and p == 15}
        n_vis = sum(1 for m in ev["GenVisTau_genPartIdxMother"] if m in taus)
        expected.append(n_lep == 0 and len(taus) == 1 and n_vis == 1)
    for _, events in iterate_events([NANO], TRUTH_BRANCHES, 1000):
        got = ttbar_labels(events)["is_taujets"]
    assert got.tolist() == expected
    assert 10 <= sum(expected) <= 60  # semileptonic ttbar: about a tenth to a quarter are tau_h + jets


def test_pairing_by_event_id_equals_a_dictionary_join():
    rng = np.random.default_rng(3)
    ids = rng.choice(10_000, 300, replace=False)
    nominal = {"run": np.ones(300, np.uint32), "luminosityBlock": ids // 100, "event": ids}
    keep = rng.permutation(300)[:250]
    extra = np.arange(20_000, 20_030)  # events that enter only in the shifted selection
    ev = np.concatenate([ids[keep], extra])
    shifted = {"run": np.ones(len(ev), np.uint32), "luminosityBlock": ev // 100, "event": ev}
    rows = pair_rows(nominal, shifted)
    where = {(1, int(lb), int(e)): i for i, (lb, e) in enumerate(zip(shifted["luminosityBlock"], shifted["event"]))}
    expected = [where.get((1, int(lb), int(e)), -1) for lb, e in zip(nominal["luminosityBlock"], nominal["event"])]
    assert rows.tolist() == expected and (rows >= 0).sum() == 250


def test_split_is_a_function_of_the_event_id():
    rng = np.random.default_rng(4)
    run, lumi, event = np.ones(20_000, np.uint32), rng.integers(1, 500, 20_000), rng.permutation(10**6)[:20_000]
    labels = split_labels(run, lumi, event, 7, {"train": 0.5, "valid": 0.1})
    assert np.bincount(labels) / 20_000 == pytest.approx([0.5, 0.1, 0.4], abs=0.015)
    order = rng.permutation(20_000)
    assert (split_labels(run[order], lumi[order], event[order], 7, {"train": 0.5, "valid": 0.1}) == labels[order]).all()
    assert (split_labels(run, lumi, event, 8, {"train": 0.5, "valid": 0.1}) != labels).any()
    with pytest.raises(ValueError, match="leaves no events"):
        split_labels(run, lumi, event, 7, {"train": 0.7, "valid": 0.3})


def test_model_of_the_default_config():
    cfg = load_config(REPO / "config" / "config.yaml")
    spec = cms_spec(cfg)
    assert spec.sample_names == fit_samples(cfg) == ["ttbar_taujets", "ttbar_other", "single_top", "vjets", "qcd"]
    by_name = {m.name: m for m in spec.modifiers}
    assert by_name["mu"].samples == ("ttbar_taujets",)
    assert by_name["qcd_norm"].type == "normfactor" and by_name["qcd_norm"].bounds == (0.5, 1.5)
    assert by_name["xsec_ttbar"].lohi == {"ttbar_other": (1 - 0.061, 1 + 0.061)}
    for syst in ("jes", "jer", "tes", "btag_bc", "btag_light"):
        assert by_name[syst].type == "normplusshape" and "qcd" in by_name[syst].samples


def test_soft_templates_of_the_loss_tend_to_the_fit_templates(analysis):
    """At a cold temperature the INFERNO loss's templates (all rows) equal the fit's hist templates."""
    cfg, samples, observed, _ = analysis
    torch.manual_seed(0)
    from sysaware.train.networks import make_mlp

    x = torch.from_numpy(np.concatenate([s.nominal.x for s in samples.values()]))
    net = make_mlp(8, 4, [], mean=x.mean(0), std=x.std(0))  # standardised linear map: O(1) spread of outputs
    test_parts = {n: _Split(s, 2, torch.device("cpu")) for n, s in samples.items()}
    spec = cms_spec(cfg)
    systs = [m.name for m in spec.template_systematics]
    with torch.no_grad():
        soft = soft_templates(net, {n: p.events(None, systs) for n, p in test_parts.items()}, systs, 1e-7)
    cfg4 = copy.deepcopy(cfg)
    cfg4["training"]["n_bins"] = 4
    _, hard, _, info = fit_inputs(cfg4, net, samples, observed)
    groups = info["fit_bins"]
    merged = {n: np.array([soft.nominal[n].numpy()[g].sum() for g in groups]) for n in soft.nominal}
    for n in hard.nominal:
        assert merged[n] == pytest.approx(hard.nominal[n], rel=1e-3, abs=1e-6), n
    for syst in ("jes", "btag_bc"):
        for n, values in hard.up[syst].items():
            got = np.array([soft.up[syst][n].numpy()[g].sum() for g in groups])
            # object systematics: the loss keeps the shape of paired events and the shifted yield
            assert got.sum() == pytest.approx(values.sum(), rel=1e-6), (syst, n)
    # the loss is the POI variance of the same model the fit uses (warm: every bin filled)
    with torch.no_grad():
        warm = soft_templates(net, {n: p.events(None, systs) for n, p in test_parts.items()}, systs, 1.0)
    var = float(TorchModel(spec, 4).poi_variance(warm))
    assert var > 0 and np.isfinite(var)
    to_pyhf_model(spec, hard)  # the fit's model builds from the hard templates


def test_inferno_training_lowers_its_loss_and_exports_to_onnx(analysis, tmp_path):
    cfg, samples, _, _ = analysis
    net, meta, hist = train(cfg, CMSData(cfg, samples), "inferno")
    assert min(hist.valid) < hist.valid[0] or hist.best_epoch > 0
    assert meta["features"][0] == "aplanarity" and meta["n_outputs"] == cfg["training"]["n_bins"]
    check = export_onnx(net, tmp_path / "inferno.onnx", samples)
    assert check["max_abs_diff"] < 1e-4 and check["n_events"] > 100
    import onnxruntime as ort

    x = np.random.default_rng(1).normal(size=(7, 8)).astype(np.float32)  # another batch size than at export
    out = ort.InferenceSession(str(tmp_path / "inferno.onnx")).run(None, {"features": x})[0]
    with torch.no_grad():
        assert out == pytest.approx(net(torch.from_numpy(x)).numpy(), abs=1e-4)


def test_bce_training_separates_signal(analysis):
    cfg, samples, _, _ = analysis
    cfg = copy.deepcopy(cfg)
    cfg["training"] |= {"epochs": 40, "patience": 40, "batch_size": 200, "lr": 0.005}
    net, _, hist = train(cfg, CMSData(cfg, samples), "bce")
    assert hist.best_valid < 0.69  # below the loss of a constant guess (ln 2)
    with torch.no_grad():
        s = torch.sigmoid(net(torch.from_numpy(samples["ttbar_taujets"].nominal.x))).mean()
        b = torch.sigmoid(net(torch.from_numpy(samples["qcd"].nominal.x))).mean()
    assert s > b


def test_data_driven_qcd_is_the_reweighted_zero_tag_region(analysis, tmp_path):
    cfg, _, _, gen = analysis
    cfg = copy.deepcopy(cfg)
    cfg["cms"]["samples"] = [s if s["name"] != "qcd" else {"name": "qcd", "role": "data-driven", "generated": "data"}
                             for s in cfg["cms"]["samples"]]
    rate = cfg["cms"]["qcd_mistag_rate"]
    qcd = ingest(cfg, "qcd", gen).arrays["nominal"]
    data = ingest(cfg, "data", gen).arrays["nominal"]
    assert len(qcd["event"]) > 0 and (qcd["n_btag"] == 0).all()
    assert qcd["weight"] == pytest.approx(1.0 - (1.0 - rate) ** qcd["n_jets"])
    # the 0-tag events are data events that fail only the b-tag requirement
    if cfg["cms"]["selection"].get("n_btag_min", 1) == 0:
        assert set(qcd["event"].tolist()) <= set(data["event"].tolist())
    else:
        assert not set(qcd["event"].tolist()) & set(data["event"].tolist())
    assert sample_sum_weights(cfg, "qcd", gen) is None


def test_remote_paths_stay_urls_and_missing_local_files_are_named(tmp_path):
    from sysaware.cms.ingestion.nanoevents import IngestionError, open_tree, source_name

    url = "https://xrootd-local.unl.edu:1094//store/user/AGC/nanoAOD/a.root"
    assert source_name(url) == url  # a pathlib.Path would collapse '//' and break the URL
    assert source_name("root://eospublic.cern.ch//eos/x.root") == "root://eospublic.cern.ch//eos/x.root"
    assert source_name("./data/../x.root") == "data/../x.root"
    with pytest.raises(IngestionError, match="not found: .*missing.root"):
        open_tree(tmp_path / "missing.root")


@pytest.mark.parametrize("method", ["augment", "aware", "pivot", "disco"])
def test_every_z_method_trains_on_the_cms_samples(analysis, method):
    """The z-methods run on the tau+jets samples with z = JES in units of sigma (the events' nominal
    and shifted copies), through the common interface; each lowers its own training loss."""
    cfg, samples, _, _ = analysis
    cfg = copy.deepcopy(cfg)
    cfg["methods"] = {m: {"enabled": True} for m in ("bce", "inferno", "augment", "aware", "pivot", "disco")}
    cfg["methods"]["pivot"] |= {"lam": 1.0, "adversary_steps": 5, "adversary_width": 20, "adversary_lr": 1e-3,
                                "pretrain_epochs": 1}
    cfg["methods"]["disco"] |= {"lam": 1.0}
    cfg["training"] |= {"epochs": 3, "patience": 3}
    data = CMSData(cfg, samples)
    assert data.nuisance.values == (-1.0, 0.0, 1.0)
    net, meta, hist = train(cfg, data, method)
    assert hist.train[-1] < hist.train[0], hist.train
    assert meta["z_input"] == (method == "aware") and meta["n_inputs"] == 8 + (method == "aware")
    # an event drawn at z = +1 is its JES-up copy (or not kept when the copy failed the selection)
    z = np.ones(len(data.classes("train", None, torch.device("cpu"))))
    up = data.classes("train", z, torch.device("cpu"))
    part = data._parts("train", torch.device("cpu"))["ttbar_taujets"]
    have, xs, _, _ = part.shifted["jes_up"]
    n = len(part)
    assert torch.equal(up.x[:n][have], xs) and int(up.kept[:n].sum()) == len(have)
