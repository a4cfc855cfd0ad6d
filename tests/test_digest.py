"""Content digests of results (sysaware.digest): equal for equal numbers written at other times or
in other folders, different as soon as one number differs."""

from __future__ import annotations

import time

import hist
import numpy as np
import uproot

from sysaware.digest import digest_tree
from sysaware.io import save_npz, write_json


def _write(folder, counts, seconds):
    folder.mkdir(parents=True, exist_ok=True)
    h = hist.Hist.new.Regular(3, 0, 1, name="x").Weight()
    h.fill(x=np.array([0.1, 0.5, 0.5, 0.9]), weight=np.array(counts, dtype=float))
    with uproot.recreate(folder / "templates.root") as f:
        f["SR/signal"] = h
    save_npz(folder / "events.npz", w=np.array(counts, dtype=float))
    write_json(folder / "fit.json", {"bestfit": sum(counts), "seconds": seconds,
                                     "files": [str(folder / "templates.root")]})
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "x.log").write_text(f"took {seconds}\n")


def test_same_numbers_written_later_elsewhere_have_equal_digests(tmp_path):
    _write(tmp_path / "a", [1, 2, 3, 4], 1.5)
    time.sleep(1.1)  # ROOT files store the time of writing
    _write(tmp_path / "b", [1, 2, 3, 4], 7.25)
    assert (tmp_path / "a" / "templates.root").read_bytes() != (tmp_path / "b" / "templates.root").read_bytes()
    a, b = digest_tree(tmp_path / "a"), digest_tree(tmp_path / "b")
    assert sorted(a) == ["events.npz", "fit.json", "templates.root"] and a == b


def test_one_different_number_changes_the_digest(tmp_path):
    _write(tmp_path / "a", [1, 2, 3, 4], 1.0)
    _write(tmp_path / "b", [1, 2, 3, 4.000001], 1.0)
    a, b = digest_tree(tmp_path / "a"), digest_tree(tmp_path / "b")
    assert all(a[k] != b[k] for k in a)


def test_onnx_digest_is_the_graph_not_the_exporters_source_locations(tmp_path):
    """Two exports of one network that differ only in the per-node stack traces the exporter records
    (they name the checkout's source files) have one digest; another weight changes it."""
    import onnx
    import torch

    from sysaware.cms.onnx_export import export_onnx
    from sysaware.digest import file_digest
    from sysaware.train.networks import make_mlp

    torch.manual_seed(0)
    net = make_mlp(3, 2, [4])
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    export_onnx(net, tmp_path / "a.onnx", x_check=x)
    model = onnx.load(str(tmp_path / "a.onnx"))
    for node in model.graph.node:
        for prop in node.metadata_props:
            prop.value = prop.value.replace("/", "/elsewhere/")
    onnx.save(model, str(tmp_path / "b.onnx"))
    assert (tmp_path / "a.onnx").read_bytes() != (tmp_path / "b.onnx").read_bytes()
    assert file_digest(tmp_path / "a.onnx") == file_digest(tmp_path / "b.onnx")
    with torch.no_grad():
        net[1].weight[0, 0] += 1e-3
    export_onnx(net, tmp_path / "c.onnx", x_check=x)
    assert file_digest(tmp_path / "c.onnx") != file_digest(tmp_path / "a.onnx")
