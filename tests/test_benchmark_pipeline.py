"""INFERNO benchmark stages: loss against pyhf, training lowers the loss, table writer."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from modelgen import PyhfView, fd_hessian

from helpers import with_defaults
from sysaware.benchmark import pipeline as P
from sysaware.benchmark.training import BenchmarkData
from sysaware.train.run import train
from sysaware.benchmark.losses import benchmark_spec, inferno_loss
from sysaware.benchmark.mixture import sample_background, sample_signal
from sysaware.stats import Templates
from sysaware.stats.torch_model import TorchModel
from sysaware.benchmark.analytic import analytic_table, sqrt_var_s
from sysaware.benchmark.evaluate import binned_fisher
from sysaware.train.networks import as_summary, load_model, make_mlp, save_model

CFG = with_defaults({
    "analysis": "inferno_benchmark",
    "seed": 3,
    "benchmark": {"signal_mean": [0.0, 0.0], "n_train": 4000, "n_valid": 2000, "n_test": 20000, "n_repeats": 1},
    "training": {"hidden": [32, 32], "activation": "relu", "n_bins": 6, "temperature": 0.1, "optimizer": "adam",
                 "lr": 1e-3, "batch_size": 1000, "epochs": 4, "patience": 4},
    "methods": {"bce": {"enabled": True}, "inferno": {"trained_under": [4], "nuisance_mode": "exact"}},
})


def _events(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return (torch.tensor(sample_signal(n, rng), dtype=torch.float32),
            torch.tensor(sample_background(n, rng), dtype=torch.float32))


@pytest.mark.parametrize("benchmark", [3, 4])
def test_inferno_interp_loss_equals_pyhf_inverse_hessian(benchmark):
    """The interp loss is 50^2 (H^-1)_mumu of pyhf's NLL at the Asimov point (finite differences)."""
    torch.manual_seed(0)
    net = make_mlp(3, 5, (16,))
    xs, xb = _events()
    temperature = 0.3
    with torch.no_grad():
        loss = inferno_loss(net, xs, xb, benchmark, temperature, "interp").item()
        # rebuild the same soft templates by hand and hand them to pyhf
        from sysaware.benchmark.losses import NOMINAL, VARIATION, _shape
        from sysaware.benchmark.mixture import shift_background

        up = {p: {"bkg": 1000 * _shape(net, shift_background(xb, *(
            (VARIATION["r"], 3.0) if p == "r" else (0.0, 3.0 + VARIATION["lam"]))), temperature).numpy()} for p in ("r", "lam")}
        down = {p: {"bkg": 1000 * _shape(net, shift_background(xb, *(
            (-VARIATION["r"], 3.0) if p == "r" else (0.0, 3.0 - VARIATION["lam"]))), temperature).numpy()} for p in ("r", "lam")}
        tpl = Templates(nominal={"sig": 50 * _shape(net, xs, temperature).numpy(),
                                 "bkg": 1000 * _shape(net, xb, temperature).numpy()}, up=up, down=down)
    spec = benchmark_spec(benchmark)
    view = PyhfView(TorchModel(spec, 5), tpl)
    init = view.torch_model.init().numpy()
    asimov = view.model.expected_actualdata(view.to_pyhf(init))
    hess = fd_hessian(lambda p: view.nll(p, asimov), init)
    ref = NOMINAL["s"] ** 2 * np.linalg.inv(hess)[0, 0]
    assert loss == pytest.approx(ref, rel=1e-6)


def _exact_loss_by_autodiff_hessian(net, xs, xb, benchmark, temperature):
    """Reference: torch.func.hessian of the Asimov NLL with r, lam moved inside the likelihood."""
    from sysaware.benchmark.analytic import BENCHMARKS, PARAMS
    from sysaware.benchmark.losses import NOMINAL, _shape
    from sysaware.benchmark.mixture import shift_background

    bm = BENCHMARKS[benchmark]
    hs = _shape(net, xs, temperature)
    theta0 = torch.tensor([NOMINAL[p] for p in PARAMS], dtype=torch.float64)

    def expected(theta):
        s, r, lam, b = theta
        return s * hs + b * _shape(net, shift_background(xb, r.float(), lam.float()), temperature)

    asimov = expected(theta0)
    idx = [0] + [PARAMS.index(p) for p in bm.free]

    def nll(sub):
        theta = theta0.index_put((torch.tensor(idx),), sub)
        mu = expected(theta)
        out = (mu - torch.xlogy(asimov, mu)).sum()
        for i, p in enumerate(bm.free, start=1):
            if bm.sigma.get(p) is not None:
                out = out + 0.5 * ((sub[i] - NOMINAL[p]) / bm.sigma[p]) ** 2
        return out

    return torch.linalg.inv(torch.func.hessian(nll)(theta0[idx]))[0, 0]


@pytest.mark.parametrize("benchmark", [0, 1, 2, 3, 4])
def test_exact_loss_closed_form_equals_autodiff_hessian(benchmark):
    """The closed-form Fisher of the exact loss equals the Hessian route, value and weight gradient."""
    torch.manual_seed(2)
    net = make_mlp(3, 6, (16,))
    xs, xb = _events(2000, 2)
    grads = []
    for fn in (lambda: inferno_loss(net, xs, xb, benchmark, 0.2, "exact"),
               lambda: _exact_loss_by_autodiff_hessian(net, xs, xb, benchmark, 0.2)):
        net.zero_grad()
        loss = fn()
        loss.backward()
        grads.append((loss.item(), torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])))
    (va, ga), (vb, gb) = grads
    assert va == pytest.approx(vb, rel=1e-5)
    assert torch.allclose(ga, gb, rtol=1e-3, atol=1e-4 * gb.abs().max().item())


def test_bm4_normsys_is_a_100_event_gaussian_to_first_order():
    spec = benchmark_spec(4)
    (b,) = [m for m in spec.modifiers if m.name == "b"]
    lo, hi = b.lohi["bkg"]
    from sysaware.stats.interpolation import normsys_factor

    a = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    f = normsys_factor(a, torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64))
    (slope,) = torch.autograd.grad(f, a)
    assert 1000 * slope.item() == pytest.approx(100.0, rel=1e-10)


@pytest.mark.parametrize("mode", ["exact", "interp"])
def test_exact_and_interp_losses_agree_on_smooth_summaries(mode):
    """At high temperature the summary is smooth in (r, lam): both nuisance treatments give similar var(s)."""
    torch.manual_seed(1)
    net = make_mlp(3, 4, (16,))
    xs, xb = _events(20000, 1)
    with torch.no_grad():
        exact = inferno_loss(net, xs, xb, 3, 1.0, "exact").item()
        other = inferno_loss(net, xs, xb, 3, 1.0, mode).item()
    assert other == pytest.approx(exact, rel=0.05)


def _train(model: str, data: dict, cfg: dict | None = None):
    """One model of the benchmark through the common training interface."""
    cfg = CFG if cfg is None else cfg
    return train(cfg, BenchmarkData(cfg, data), model, 0)


@pytest.mark.parametrize("method", ["bce", "inferno_bm4"])
def test_short_training_lowers_the_loss(method):
    data = P.make_data(CFG)
    net, meta, hist = _train(method, data)
    assert hist.valid[hist.best_epoch] < hist.valid[0]
    assert meta["best_epoch"] == hist.best_epoch


def test_training_is_deterministic(tmp_path):
    data = P.make_data(CFG)
    a, _, ha = _train("bce", data)
    b, _, hb = _train("bce", data)
    assert ha.valid == hb.valid
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_model_round_trip_weights_only(tmp_path):
    net = make_mlp(3, 4, (8,), mean=torch.ones(3), std=2 * torch.ones(3))
    meta = {"n_inputs": 3, "n_outputs": 4, "hidden": [8], "activation": "relu"}
    save_model(net, str(tmp_path / "m.pt"), meta)
    back, meta2 = load_model(str(tmp_path / "m.pt"))
    x = torch.randn(10, 3)
    assert torch.equal(net(x), back(x)) and meta2 == meta


def test_binned_evaluation_never_beats_analytic():
    data = P.make_data(CFG)
    net, _, _ = _train("inferno_bm4", data)
    res = P.evaluate(CFG, net, data)
    assert all(c >= a for c, a in zip(res["sqrt_var_s"], analytic_table()))
    # the pyhf/cabinetry fit of the same templates agrees (Minuit HESSE, numerical)
    summary = P.crosscheck_summary([res])
    assert summary["n_fits"] == 5 and summary["max_abs_rel_diff_hesse"] < 1e-3
    for ours, fit in zip(res["sqrt_var_s"], res["pyhf"]):
        lo, hi = fit["minos"]
        assert fit["bestfit_mu"] == pytest.approx(1.0, abs=1e-4)
        assert -lo < ours < hi  # Poisson: MINOS interval asymmetric around the Gaussian width


def test_table_writer_on_tiny_run(shared_reference, tmp_path):
    reference = json.loads((shared_reference / "inferno_paper_table.json").read_text())
    results = {"bce": [[15.0, 19.0, 24.0, 21.0, 26.0], [16.0, 20.0, 25.0, 22.0, 27.0]],
               "inferno_bm4": [[16.0, 17.0, 17.0, 17.0, 19.0]]}
    table = P.paper_table(CFG, results, reference)
    assert table["bce"] == pytest.approx([15.5, 19.5, 24.5, 21.5, 26.5])
    assert table["inferno_best"]["trained_under"] == "bm4"
    assert table["n_trainings"] == {"bce": 2, "inferno_bm4": 1}
    assert table["paper"]["analytic"] == reference["sqrt_variance_of_s"]["Analytical likelihood"]
    assert table["spread"]["bce"]["p16"][0] < 15.5 < table["spread"]["bce"]["p84"][0]
    md = P.table_markdown(table)
    assert "| INFERNO bm4, paper | 15.71 | 16.89 | 16.95 | 16.88 | 18.68 |" in md
    P.plot_table(table, str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_optimal_classifier_is_the_density_ratio_and_bounds_bce_in_bm0():
    """The optimal classifier's logit is log f_s - log f_b; in bm0 it beats (or ties) a trained BCE."""
    from sysaware.benchmark.mixture import log_density_background, log_density_signal
    from sysaware.benchmark.optimal import OptimalClassifier

    xs, xb = _events(5, 4)
    x = torch.cat([xs, xb])
    ref = log_density_signal(x.double().numpy()) - log_density_background(x.double().numpy())
    assert np.allclose(OptimalClassifier()(x)[:, 0].numpy(), ref, rtol=1e-6)
    data = P.make_data(CFG)
    row = P.optimal_classifier_row(CFG, data)
    bce, _, _ = _train("bce", data)
    assert row[0] <= P.evaluate(CFG, bce, data)["sqrt_var_s"][0] * 1.001


def test_small_bins_are_merged_so_every_fit_bin_has_events():
    from sysaware.binning import merge_small_bins

    assert merge_small_bins(np.array([0.0, 5.0, 0.2, 0.3, 3.0, 0.1])) == [[0, 1], [2, 3, 4, 5]]
    assert merge_small_bins(np.array([0.1, 0.2])) == [[0, 1]]
    groups = merge_small_bins(np.array([2.0, 0.0, 0.0]))
    assert groups == [[0, 1, 2]] and sorted(sum(groups, [])) == [0, 1, 2]


def test_fit_inputs_of_a_trained_summary_build_a_cabinetry_workspace(tmp_path):
    import cabinetry

    from sysaware.benchmark.fit_templates import fit_inputs
    from sysaware.stats.workspace_build import build_workspace

    data = P.make_data(CFG)
    net, _, _ = _train("inferno_bm4", data)
    spec, tpl, observed, info = fit_inputs(CFG, net, data)
    assert sorted(sum(info["fit_bins"], [])) == list(range(CFG["training"]["n_bins"]))
    assert observed.sum() == sum(info["pseudo_data_events"].values())
    assert tpl.nominal["signal"].sum() == pytest.approx(50.0) and tpl.nominal["background"].sum() == pytest.approx(1000.0)
    ws, _ = build_workspace(spec, tpl, observed, tmp_path)
    model, obs = cabinetry.model_utils.model_and_data(ws)
    assert set(model.config.par_order) == {"mu", "r", "lam", "b"}
    assert np.allclose(obs[: model.config.nmaindata], observed)
    assert (tmp_path / "templates.root").exists() and (tmp_path / "cabinetry_config.json").exists()


@pytest.mark.parametrize("model", ["augment", "aware", "pivot", "disco", "true_z_0"])
def test_every_other_method_trains_on_the_benchmark_and_lowers_its_loss(model):
    """The methods of the HiggsML study run on the benchmark too (z = the background shift r), through
    the same interface; each lowers its own training loss, and a parameterised f(x, r) takes r."""
    data = P.make_data(CFG)
    cfg = copy.deepcopy(CFG)
    cfg["methods"]["pivot"] |= {"lam": 1.0, "pretrain_epochs": 2}  # 4 epochs: a gentle adversary
    net, meta, hist = _train(model, data, cfg)
    assert hist.train[-1] < hist.train[0], hist.train
    assert meta["z_input"] == (model == "aware") and meta["n_inputs"] == 3 + (model == "aware")
    assert meta["method"] == model.removesuffix("_0") and meta["model"] == model
    # the parameterised f(x, r) is evaluated at the nominal r; bm0 has no nuisance (always estimable)
    info = binned_fisher(as_summary(net, meta), *(torch.from_numpy(data[k]) for k in ("xs_test", "xb_test")), 6)
    assert sqrt_var_s(info, 0) >= analytic_table()[0] * 0.999
