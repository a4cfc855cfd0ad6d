"""Training failures and reruns: a NaN loss or a singular INFERNO Hessian stops training with the
last good checkpoint kept; a training killed with SIGKILL resumes from its checkpoint and ends
with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import REPO
from sysaware.benchmark import pipeline as P
from sysaware.benchmark.losses import inferno_loss
from sysaware.config import load_config
from sysaware.io import save_npz
from sysaware.train.checkpoint import Checkpoint, GeneratorState, fingerprint
from sysaware.train.loop import TrainingError, TrainSettings, fit
from sysaware.train.networks import make_mlp


def _toy(tmp_path: Path, nan_from: int | None = None):
    """A small regression fit whose loss turns NaN from epoch ``nan_from``."""
    torch.manual_seed(0)
    net = make_mlp(2, 1, (8,))
    x = torch.randn(256, 2)
    gen = torch.Generator().manual_seed(1)
    seen: dict[str, int] = {}

    def batches(epoch: int):
        seen["epoch"] = epoch
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            yield x[perm[i : i + 64]]

    def loss_fn(net, b):
        loss = (net(b)[:, 0] - b.sum(1)).pow(2).mean()
        return loss * float("nan") if nan_from is not None and seen["epoch"] >= nan_from else loss

    def valid(net):
        return float((net(x)[:, 0] - x.sum(1)).pow(2).mean())

    ckpt = Checkpoint(tmp_path / "toy.ckpt", fingerprint({"toy": 1}, "m"), {"batches": GeneratorState(gen)})
    return net, batches, loss_fn, valid, ckpt


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    net, batches, loss_fn, valid, ckpt = _toy(tmp_path, nan_from=3)
    with pytest.raises(TrainingError, match=r"non-finite training loss in epoch 3.*last good checkpoint: .*toy.ckpt \(epoch 2\)"):
        fit(net, batches, loss_fn, valid, TrainSettings(epochs=10, patience=10), checkpoint=ckpt)
    blob = torch.load(ckpt.path, weights_only=True)
    assert blob["epoch"] == 2 and len(blob["valid"]) == 3
    assert all(np.isfinite(blob["valid"]))
    # the network is left at the best of the good epochs, which the checkpoint holds too
    for k, v in net.state_dict().items():
        assert torch.equal(v, blob["best_state"][k])


def test_singular_inferno_hessian_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    """A network that collapses (all events in one bin) makes the Asimov Hessian singular."""
    rng = np.random.default_rng(0)
    from sysaware.benchmark.mixture import sample_background, sample_signal

    xs = torch.tensor(sample_signal(2000, rng), dtype=torch.float32)
    xb = torch.tensor(sample_background(2000, rng), dtype=torch.float32)
    torch.manual_seed(0)
    net = make_mlp(3, 4, (16,))
    seen: dict[str, int] = {}

    def batches(epoch: int):
        seen["epoch"] = epoch
        yield xs, xb

    def loss_fn(net, b):
        if seen["epoch"] >= 2:  # the summary collapses: every event lands in bin 0
            with torch.no_grad():
                net[-1].weight.zero_()
                net[-1].bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
        return inferno_loss(net, b[0], b[1], 4, 0.1, "exact")

    ckpt = Checkpoint(tmp_path / "inferno.ckpt", fingerprint({"bm": 4}, "inferno"))
    with pytest.raises(TrainingError, match=r"Asimov Hessian is singular.*last good checkpoint.*\(epoch 1\)"):
        fit(net, batches, loss_fn, lambda n: inferno_loss(n, xs, xb, 4, 0.1, "exact").item(),
            TrainSettings(epochs=6, patience=6), checkpoint=ckpt)
    assert torch.load(ckpt.path, weights_only=True)["epoch"] == 1
    with torch.no_grad():
        assert float(inferno_loss(net, xs, xb, 4, 0.1, "exact")) > 0  # back at a good state


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, caplog):
    net, batches, loss_fn, valid, ckpt = _toy(tmp_path, nan_from=2)
    with pytest.raises(TrainingError):
        fit(net, batches, loss_fn, valid, TrainSettings(epochs=5, patience=5), checkpoint=ckpt)
    net, batches, loss_fn, valid, _ = _toy(tmp_path)
    other = Checkpoint(ckpt.path, fingerprint({"toy": 2}, "m"), ckpt.state)
    with caplog.at_level("WARNING"):
        hist = fit(net, batches, loss_fn, valid, TrainSettings(epochs=3, patience=5), checkpoint=other)
    assert hist.resumed_after is None and len(hist.valid) == 3
    assert "belongs to another config" in caplog.text
    assert not ckpt.path.exists()  # removed once training ended normally


def test_corrupt_checkpoint_is_ignored_with_a_warning(tmp_path, caplog):
    net, batches, loss_fn, valid, ckpt = _toy(tmp_path)
    ckpt.path.write_bytes(b"\x00not a checkpoint")
    with caplog.at_level("WARNING"):
        hist = fit(net, batches, loss_fn, valid, TrainSettings(epochs=2, patience=5), checkpoint=ckpt)
    assert hist.resumed_after is None and "unreadable" in caplog.text


def test_determinism_of_resume_after_an_interruption_in_process(tmp_path):
    """Stopped after epoch 3 (an exception from the progress hook), rerun: same weights and losses."""
    settings = TrainSettings(epochs=8, patience=8)
    net, batches, loss_fn, valid, _ = _toy(tmp_path)
    ref = fit(net, batches, loss_fn, valid, settings)
    ref_state = {k: v.clone() for k, v in net.state_dict().items()}

    class Stop(Exception):
        pass

    def stop_after_3(epoch, *_):
        if epoch == 3:
            raise Stop

    net, batches, loss_fn, valid, ckpt = _toy(tmp_path)
    with pytest.raises(Stop):
        fit(net, batches, loss_fn, valid, settings, stop_after_3, ckpt)
    net, batches, loss_fn, valid, ckpt = _toy(tmp_path)  # a fresh process: new net, new generator
    hist = fit(net, batches, loss_fn, valid, settings, checkpoint=ckpt)
    assert hist.resumed_after == 3
    assert hist.valid == ref.valid and hist.best_epoch == ref.best_epoch
    assert all(torch.equal(v, ref_state[k]) for k, v in net.state_dict().items())


@pytest.fixture(scope="module")
def benchmark_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """Run config and events of a small INFERNO-benchmark training (40 epochs, no early stop)."""
    d = tmp_path_factory.mktemp("bm")
    raw = {"analysis": "inferno_benchmark", "seed": 11,
           "benchmark": {"n_train": 2000, "n_valid": 1000, "n_test": 1000, "n_repeats": 1},
           "training": {"hidden": [16, 16], "n_bins": 4, "batch_size": 500, "epochs": 40, "patience": 40}}
    (d / "cfg.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(d / "cfg.yaml")
    (d / "config.json").write_text(json.dumps({"config": cfg}))
    save_npz(d / "events.npz", **P.make_data(cfg))
    return d / "config.json", d / "events.npz"


def _train_cmd(config: Path, events: Path, out: Path) -> list[str]:
    return [sys.executable, str(REPO / "scripts" / "benchmark_train.py"), "--config", str(config), "--data",
            str(events), "--method", "inferno_bm4", "--threads", "1", "--out", str(out),
            "--history", str(out.with_suffix(".json"))]


@pytest.mark.slow
def test_determinism_of_a_training_killed_with_sigkill_and_rerun(benchmark_inputs, tmp_path):
    config, events = benchmark_inputs
    ref, out = tmp_path / "ref.pt", tmp_path / "killed.pt"
    subprocess.run(_train_cmd(config, events, ref), check=True, capture_output=True, timeout=600)

    ckpt = Path(f"{out}.ckpt")
    proc = subprocess.Popen(_train_cmd(config, events, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if ckpt.exists() and torch.load(ckpt, weights_only=True)["epoch"] >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "training ended before it could be killed: make it longer"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and ckpt.exists()
    killed_at = torch.load(ckpt, weights_only=True)["epoch"]

    subprocess.run(_train_cmd(config, events, out), check=True, capture_output=True, timeout=600)
    history = json.loads(out.with_suffix(".json").read_text())
    assert history["resumed_after_epoch"] >= killed_at
    want, got = torch.load(ref, weights_only=True), torch.load(out, weights_only=True)
    assert want["meta"] == got["meta"]
    assert all(torch.equal(v, got["state_dict"][k]) for k, v in want["state_dict"].items())
    assert history["valid"] == json.loads(ref.with_suffix(".json").read_text())["valid"]
    assert not ckpt.exists()  # removed after the finished training
