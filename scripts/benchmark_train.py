"""Train one model of the INFERNO benchmark (any method: bce, inferno_bm<k>, augment, aware, ...)."""

from __future__ import annotations

from sysaware.benchmark.training import BenchmarkData
from sysaware.cli_util import add_training_outputs, checkpoint_path, load_events, load_run_config, run_parser, setup
from sysaware.io import write_json
from sysaware.train.networks import save_model
from sysaware.train.run import train

ap = run_parser(__doc__)
ap.add_argument("--method", required=True, help="model name: a method of methods.*, inferno_bm<k>, true_z_<k>")
ap.add_argument("--repeat", type=int, default=0, help="index of the repeated training")
add_training_outputs(ap)
a = ap.parse_args()
log = setup(a.threads)
cfg = load_run_config(a.config)
data = load_events(a.data)


def progress(epoch: int, train_loss: float, valid_loss: float) -> None:
    log.info("%s repeat %d epoch %d: train %.5g valid %.5g", a.method, a.repeat, epoch, train_loss, valid_loss)


net, meta, hist = train(cfg, BenchmarkData(cfg, data), a.method, a.repeat, progress, checkpoint_path(a))
save_model(net, a.out, meta)
write_json(a.history, {"train": hist.train, "valid": hist.valid, "best_epoch": hist.best_epoch,
                        "resumed_after_epoch": hist.resumed_after})
log.info("best epoch %d, validation loss %.5g", hist.best_epoch, hist.best_valid)
