"""Parity of the cabinetry route (ROOT templates -> config -> workspace) with our own models.

For random models using only what cabinetry can express (normfactor, normsys,
normplusshape, staterror; cabinetry's default interpolation codes code4/code4p), the
templates are written to a ROOT file with :func:`write_templates_root`, the config from
:func:`to_cabinetry_config` is validated, templates are collected with uproot, the
workspace is built and turned into a pyhf model with ``cabinetry.model_utils``.  Its
logpdf at random parameter points equals minus our torch NLL and our direct
``to_pyhf_model`` logpdf to 1e-10 relative; expected rates, parameter sets and
measurement settings (inits, bounds, fixed) agree too.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import cabinetry
import numpy as np
import pytest
import torch
import uproot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelgen import random_templates

from sysaware.stats import ModelSpec, ModelSpecError, Templates
from sysaware.stats.interpolation import histosys_delta
from sysaware.stats.pyhf_export import to_cabinetry_config, to_pyhf_model
from sysaware.stats.workspace_build import build_workspace
from sysaware.stats.templates_io import read_templates_root, write_templates_root
from sysaware.stats.torch_model import TorchModel, as_tensor_templates, split_norm_and_shape

RTOL = 1e-10
N_POINTS = 4  # random parameter points per model

logging.getLogger("cabinetry").setLevel(logging.ERROR)  # "no modified histogram found" etc.


def _fixing():
    """Nothing, or ``fixed`` with an optional value (cabinetry has nuisance inits only if fixed)."""
    return st.one_of(
        st.just({}),
        st.just({"fixed": True}),
        st.floats(-1.5, 1.5).map(lambda v: {"fixed": True, "init": v}),
    )


@st.composite
def cabinetry_model_configs(draw):
    """Model config (normfactor/normsys/normplusshape/staterror only), nbins and a seed."""
    nbins = draw(st.integers(1, 5))
    nsamples = draw(st.integers(1, 3))
    samples = [f"s{i}" for i in range(nsamples)]
    subset = st.lists(st.sampled_from(samples), min_size=1, max_size=nsamples, unique=True)
    mods: list[dict] = [{"name": "mu", "type": "normfactor", "samples": [samples[0]]}]
    if nsamples > 1 and draw(st.booleans()):
        nf: dict = {"name": "k_bkg", "type": "normfactor", "samples": samples[1:],
                    "bounds": [0.2, 3.0], "fixed": draw(st.booleans())}
        if draw(st.booleans()):
            nf["init"] = draw(st.floats(0.5, 2.0))
        mods.append(nf)
    for i in range(draw(st.integers(0, 2))):
        affected = draw(subset)
        if draw(st.booleans()):  # one (lo, hi) for all samples: one cabinetry systematic
            lo, hi = draw(st.floats(0.7, 0.99)), draw(st.floats(1.01, 1.3))
            lohi = {s: {"lo": lo, "hi": hi} for s in affected}
        else:  # per-sample values: split into several systematics sharing ModifierName
            lohi = {s: {"lo": draw(st.floats(0.7, 0.99)), "hi": draw(st.floats(1.01, 1.3))}
                    for s in affected}
        mods.append({"name": f"norm{i}", "type": "normsys", "samples": lohi, **draw(_fixing())})
    for i in range(draw(st.integers(0, 2))):
        mods.append(
            {"name": f"nps{i}", "type": "normplusshape", "samples": draw(subset), **draw(_fixing())}
        )
    cfg = {
        "poi": "mu",
        "samples": [{"name": s, "staterror": draw(st.booleans())} for s in samples],
        "modifiers": mods,
        "interpolation": {"normsys": "code4", "histosys": "code4p"},  # cabinetry's codes
    }
    return cfg, nbins, draw(st.integers(0, 2**31 - 1))


def _observed(model: TorchModel, tpl: Templates, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 3)
    lam = model.expected(model.init(), as_tensor_templates(tpl)).numpy()
    return np.round(lam * rng.uniform(0.8, 1.2, model.nbins))


def _cabinetry_model(spec: ModelSpec, tpl: Templates, observed: np.ndarray, folder: Path):
    """ROOT file -> cabinetry config -> collected templates -> workspace -> (model, data, ws)."""
    ws, _ = build_workspace(spec, tpl, observed, folder)
    model, data = cabinetry.model_utils.model_and_data(ws)
    return model, np.asarray(data, dtype=float), ws


def _random_point(model: TorchModel, rng: np.random.Generator) -> np.ndarray:
    """Parameters across the interpolation regions (|alpha| up to 2, beyond the +-1 knots)."""
    pars = model.init().numpy().copy()
    for mod in model.spec.modifiers:
        i = model.slices[mod.name].start
        pars[i] = rng.uniform(0.3, 2.5) if mod.type == "normfactor" else rng.uniform(-2.0, 2.0)
    if model.spec.staterror_samples:
        pars[model.slices[model.spec.staterror_name]] = rng.uniform(0.8, 1.2, model.nbins)
    return pars


def _to_pyhf(pyhf_model, model: TorchModel, pars: np.ndarray) -> np.ndarray:
    """Torch-ordered parameters placed by name into a pyhf model's parameter vector."""
    out = np.full(pyhf_model.config.npars, np.nan)
    for name, sl in model.slices.items():
        out[pyhf_model.config.par_slice(name)] = pars[sl]
    assert np.isfinite(out).all()
    return out


def _by_name(pyhf_model, values) -> dict[str, list]:
    return {name: list(values[pyhf_model.config.par_slice(name)])
            for name in pyhf_model.config.par_order}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


CAB_SETTINGS = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@CAB_SETTINGS
@given(cabinetry_model_configs())
def test_parity_cabinetry_logpdf_with_torch_and_pyhf(case):
    cfg, nbins, seed = case
    spec = ModelSpec.from_config(cfg)
    tpl = random_templates(spec, nbins, seed)
    model = TorchModel(spec, nbins)
    ttpl = as_tensor_templates(tpl)
    observed = _observed(model, tpl, seed)
    ours = to_pyhf_model(spec, tpl)
    with tempfile.TemporaryDirectory() as tmp:
        cab, cab_data, ws = _cabinetry_model(spec, tpl, observed, Path(tmp))

    # same parameters, same sizes, same measurement settings
    assert sorted(cab.config.par_order) == sorted(model.slices) == sorted(ours.config.par_order)
    for name, sl in model.slices.items():
        assert cab.config.param_set(name).n_parameters == sl.stop - sl.start
    for setting in ("suggested_init", "suggested_bounds", "suggested_fixed"):
        assert _by_name(cab, getattr(cab.config, setting)()) == _by_name(
            ours, getattr(ours.config, setting)()
        ), setting
    assert cab.config.poi_name == spec.poi

    # data: observed counts then auxiliary data, as in our model
    np.testing.assert_array_equal(cab_data[: nbins], observed)
    ours_data = np.concatenate([observed, ours.config.auxdata])
    assert _rel(float(cab_data[nbins:].sum()), float(np.sum(ours.config.auxdata))) == 0.0

    # single-bin channels: cabinetry drops the shape part of NormPlusShape
    n_histosys = sum(m["type"] == "histosys" for s in ws["channels"][0]["samples"]
                     for m in s["modifiers"])
    n_expected = sum(len(m.samples) for m in spec.modifiers_of("normplusshape"))
    assert n_histosys == (0 if nbins == 1 else n_expected)

    rng = np.random.default_rng(seed + 4)
    points = [model.init().numpy()] + [_random_point(model, rng) for _ in range(N_POINTS)]
    tdata = torch.tensor(observed)
    for pars in points:
        p_cab, p_ours = _to_pyhf(cab, model, pars), _to_pyhf(ours, model, pars)
        lp_cab = float(cab.logpdf(p_cab, cab_data)[0])
        lp_ours = float(ours.logpdf(p_ours, ours_data)[0])
        lp_torch = -model.nll(torch.tensor(pars), tdata, ttpl).item()
        assert _rel(lp_cab, lp_torch) <= RTOL, (pars, lp_cab, lp_torch)
        assert _rel(lp_cab, lp_ours) <= RTOL, (pars, lp_cab, lp_ours)
        lam_cab = cab.expected_actualdata(p_cab)
        lam_torch = model.expected(torch.tensor(pars), ttpl).numpy()
        np.testing.assert_allclose(lam_cab, lam_torch, rtol=RTOL, atol=0)


def _np_shape_spec(staterror: bool = True) -> ModelSpec:
    return ModelSpec.from_config(
        {
            "poi": "mu",
            "samples": [{"name": "sig"}, {"name": "bkg", "staterror": staterror}],
            "modifiers": [
                {"name": "mu", "type": "normfactor", "samples": ["sig"]},
                {"name": "jes", "type": "normplusshape", "samples": ["sig", "bkg"]},
                {"name": "lumi", "type": "normsys",
                 "samples": {"sig": {"lo": 0.98, "hi": 1.02}, "bkg": {"lo": 0.98, "hi": 1.02}}},
            ],
        }
    )


@pytest.mark.parametrize("alpha", [-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 3.0])
def test_parity_single_bin_normplusshape_has_no_shape_effect(alpha):
    """cabinetry builds no histosys for one bin; ours keeps one whose delta vanishes to rounding."""
    spec = _np_shape_spec()
    ttpl = as_tensor_templates(random_templates(spec, 1, 11))
    t = torch.tensor(alpha, dtype=torch.float64)
    for s in ("sig", "bkg"):
        nom = ttpl.nominal[s]
        _, _, up, down = split_norm_and_shape(nom, ttpl.up["jes"][s], ttpl.down["jes"][s])
        delta = histosys_delta(t, down, nom, up, spec.histosys_code)
        assert float(delta.abs().max()) <= 1e-14 * float(nom.abs().max())  # seen: <= 4.5e-16


def test_parity_cabinetry_export_refuses_pure_histosys():
    spec = ModelSpec.from_config(
        {
            "poi": "mu",
            "samples": [{"name": "sig"}, {"name": "bkg"}],
            "modifiers": [
                {"name": "mu", "type": "normfactor", "samples": ["sig"]},
                {"name": "shape", "type": "histosys", "samples": ["bkg"]},
            ],
        }
    )
    with pytest.raises(ModelSpecError, match=r"histosys \['shape'\]"):
        to_cabinetry_config(spec, "templates.root", "histograms")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"interpolation": {"normsys": "code1"}}, "code1/code4p differ from code4/code4p"),
        ({"interpolation": {"histosys": "code0"}}, "code4/code0 differ"),
        ({"channel": "signal region"}, "whitespace.*'staterror_signal-region'"),
    ],
)
def test_parity_cabinetry_export_refuses_what_cabinetry_would_build_differently(change, match):
    """cabinetry's models always use code4/code4p, and rename staterror of spaced channels."""
    cfg = {
        "poi": "mu",
        "samples": [{"name": "sig", "staterror": True}],
        "modifiers": [{"name": "mu", "type": "normfactor", "samples": ["sig"]}],
        **change,
    }
    with pytest.raises(ModelSpecError, match=match):
        to_cabinetry_config(ModelSpec.from_config(cfg), "templates.root", "histograms")


def test_parity_cabinetry_fixes_split_normsys(tmp_path):
    """A fixed normsys with per-sample (lo, hi) is split in cabinetry and must stay fixed."""
    spec = ModelSpec.from_config(
        {
            "poi": "mu",
            "samples": [{"name": "sig"}, {"name": "bkg"}],
            "modifiers": [
                {"name": "mu", "type": "normfactor", "samples": ["sig"]},
                {"name": "lumi", "type": "normsys", "fixed": True, "init": 0.5,
                 "samples": {"sig": {"lo": 0.8, "hi": 1.3}, "bkg": {"lo": 0.9, "hi": 1.1}}},
            ],
        }
    )
    tpl = random_templates(spec, 2, 12)
    cab, _, ws = _cabinetry_model(spec, tpl, np.array([10.0, 20.0]), tmp_path)
    assert [p["name"] for p in ws["measurements"][0]["config"]["parameters"]] == ["mu", "lumi"]
    sl = cab.config.par_slice("lumi")
    assert cab.config.suggested_fixed()[sl] == [True]
    assert cab.config.suggested_init()[sl] == [0.5]
    mods = {s["name"]: s["modifiers"] for s in ws["channels"][0]["samples"]}
    (bkg_lumi,) = [m["data"] for m in mods["bkg"] if m["name"] == "lumi"]
    assert bkg_lumi == {"hi": pytest.approx(1.1, rel=1e-15), "lo": pytest.approx(0.9, rel=1e-15)}


def test_templates_root_round_trip(tmp_path):
    spec = _np_shape_spec()
    tpl = random_templates(spec, 4, 5)
    observed = np.array([3.0, 0.0, 17.0, 42.0])
    edges = [0.0, 0.1, 0.5, 0.7, 1.0]
    ttpl = as_tensor_templates(tpl)  # torch tensors are accepted too
    path = write_templates_root(tmp_path / "t.root", spec, ttpl, observed, edges)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.root"]  # no temporary left

    back, obs = read_templates_root(path, spec)
    np.testing.assert_array_equal(obs, observed)
    for s in spec.sample_names:
        np.testing.assert_array_equal(back.nominal[s], tpl.nominal[s])
        expected_var = tpl.sumw2[s] if s in tpl.sumw2 else tpl.nominal[s]
        np.testing.assert_array_equal(back.sumw2[s], expected_var)
        for side in ("up", "down"):
            np.testing.assert_array_equal(
                getattr(back, side)["jes"][s], getattr(tpl, side)["jes"][s]
            )
    with uproot.open(path) as f:
        h = f["SR/bkg"].to_hist()
        np.testing.assert_array_equal(h.axes[0].edges, edges)
        np.testing.assert_array_equal(h.variances(), tpl.sumw2["bkg"])
        assert f.classname_of("SR/data") == "TH1D"
    assert back.check(spec) == 4


def test_templates_root_default_edges_and_overwrite(tmp_path):
    spec = _np_shape_spec(False)
    tpl = random_templates(spec, 3, 6)
    path = tmp_path / "t.root"
    write_templates_root(path, spec, tpl, np.ones(3))
    write_templates_root(path, spec, tpl, np.full(3, 2.0))  # replaces the file
    with uproot.open(path) as f:
        np.testing.assert_array_equal(f["SR/sig"].axis().edges(), [0.0, 1.0, 2.0, 3.0])
        np.testing.assert_array_equal(f["SR/sig"].variances(), tpl.nominal["sig"])
    np.testing.assert_array_equal(read_templates_root(path, spec)[1], [2.0, 2.0, 2.0])


def test_templates_root_missing_histogram_is_named(tmp_path):
    spec = _np_shape_spec()
    tpl = random_templates(spec, 3, 7)
    path = write_templates_root(tmp_path / "t.root", spec, tpl, np.ones(3))
    wider = ModelSpec.from_config(
        {
            "poi": "mu",
            "samples": [{"name": "sig"}, {"name": "bkg", "staterror": True}],
            "modifiers": [
                {"name": "mu", "type": "normfactor", "samples": ["sig"]},
                {"name": "jes", "type": "normplusshape", "samples": ["sig", "bkg"]},
                {"name": "jer", "type": "normplusshape", "samples": ["bkg"]},
            ],
        }
    )
    with pytest.raises(ModelSpecError, match=r"t\.root.*'SR/bkg_jerUp'.*not found"):
        read_templates_root(path, wider)
    with pytest.raises(ModelSpecError, match=r"'SR/pseudo'.*not found"):
        read_templates_root(path, spec, data_sample="pseudo")


def test_templates_root_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    spec = _np_shape_spec()
    tpl = random_templates(spec, 3, 8)
    path = tmp_path / "t.root"
    write_templates_root(path, spec, tpl, np.ones(3))
    before = path.read_bytes()

    real_recreate = uproot.recreate

    class FailingWriter:
        """Writes two histograms, then fails, as a full disk would."""

        def __init__(self, *args, **kwargs):
            self._file = real_recreate(*args, **kwargs)
            self._n = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._file.close()
            return False

        def __setitem__(self, key, value):
            if self._n == 2:
                raise OSError("No space left on device")
            self._file[key] = value
            self._n += 1

    monkeypatch.setattr(uproot, "recreate", FailingWriter)
    with pytest.raises(OSError, match="No space"):
        write_templates_root(path, spec, tpl, np.full(3, 5.0))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.root"]
    assert path.read_bytes() == before
    with pytest.raises(OSError, match="No space"):
        monkeypatch.setattr(uproot, "recreate", FailingWriter)
        write_templates_root(tmp_path / "new.root", spec, tpl, np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.root"]


def test_templates_root_rejects_bad_inputs(tmp_path):
    spec = _np_shape_spec()
    tpl = random_templates(spec, 3, 9)
    with pytest.raises(ModelSpecError, match="observed"):
        write_templates_root(tmp_path / "t.root", spec, tpl, np.ones(4))
    with pytest.raises(ModelSpecError, match="edges"):
        write_templates_root(tmp_path / "t.root", spec, tpl, np.ones(3), edges=[0, 1, 1, 2])
    with pytest.raises(ModelSpecError, match="would both be written"):
        write_templates_root(tmp_path / "t.root", spec, tpl, np.ones(3), data_sample="bkg")
    assert list(tmp_path.iterdir()) == []
