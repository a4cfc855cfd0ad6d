"""Train one method on the ingested tau+jets samples; save the model (.pt) and its ONNX export.

  python scripts/cms_train.py --config results/cms_ttbar_taujets/config.json --method inferno \\
      --ingested results/cms_ttbar_taujets/ingested/*.npz --out models/inferno.pt --onnx models/inferno.onnx \\
      --history models/inferno_history.json
Before training, every fit sample's weights and features are checked (a yield above 0 in all and in
its templates split, no feature constant: sysaware.cms.dataset.check_fit_samples); a failure ends the
script with status 1 and one error line naming the fit sample and its files; nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from sysaware.cli_util import add_training_outputs, checkpoint_path, config_parser, load_run_config, setup
from sysaware.cms.onnx_export import export_onnx
from sysaware.cms.pipeline import load_samples
from sysaware.cms.training import CMSData
from sysaware.io import write_json
from sysaware.train.networks import as_summary, save_model
from sysaware.train.run import train

ap = config_parser(__doc__)
ap.add_argument("--method", required=True, help="a method this config trains (sysaware.cms.methods.method_names)")
ap.add_argument("--ingested", nargs="+", required=True, help="ingested .npz of every sample")
add_training_outputs(ap)
ap.add_argument("--onnx", required=True, help="output ONNX model")
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
log = setup(a.threads)
cfg = load_run_config(a.config)
samples, _ = load_samples(cfg, {Path(p).stem: p for p in a.ingested})


def progress(epoch: int, train_loss: float, valid_loss: float) -> None:
    log.info("epoch %d: train %.5g valid %.5g", epoch, train_loss, valid_loss)


net, meta, hist = train(cfg, CMSData(cfg, samples), a.method, 0, progress, checkpoint_path(a))
save_model(net, a.out, meta)
# the summary the fit uses: a parameterised f(x, z) at the nominal z
check = export_onnx(as_summary(net, meta), a.onnx, samples)
write_json(a.history, {"train": hist.train, "valid": hist.valid, "best_epoch": hist.best_epoch, "onnx_check": check,
                        "resumed_after_epoch": hist.resumed_after})
log.info("%s: best epoch %d, valid loss %.5g; ONNX max |diff| %.2g", a.method, hist.best_epoch, hist.best_valid,
         check["max_abs_diff"])
