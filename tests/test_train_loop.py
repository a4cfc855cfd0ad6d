"""The shared training loop: a NaN loss stops training and keeps the best epoch's weights."""

from __future__ import annotations

import pytest
import torch

from sysaware.train.loop import TrainingError, TrainSettings, fit
from sysaware.train.networks import make_mlp, resolve_device


def test_nan_loss_stops_training_and_keeps_best_state():
    torch.manual_seed(0)
    net = make_mlp(2, 1, (4,))
    x = torch.randn(64, 2)
    seen = {}

    def loss_fn(net, _batch):
        out = net(x).pow(2).mean()
        return out * float("nan") if seen.get("epoch", 0) >= 2 else out

    def batches(epoch):
        seen["epoch"] = epoch
        yield None

    kept, valid = {}, {}

    def progress(epoch, train, v):
        kept[epoch] = {k: t.clone() for k, t in net.state_dict().items()}
        valid[epoch] = v

    with pytest.raises(TrainingError, match="non-finite training loss in epoch 2"):
        fit(net, batches, loss_fn, lambda n: n(x).pow(2).mean().item(), TrainSettings(epochs=5, patience=5), progress)
    assert set(kept) == {0, 1}
    best = min(valid, key=valid.get)
    assert all(torch.equal(net.state_dict()[k], t) for k, t in kept[best].items())


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="tpu"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")
