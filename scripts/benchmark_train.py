"""Train one model (bce or inferno_bm<k>) of the INFERNO benchmark."""

from __future__ import annotations

from sysaware.benchmark.pipeline import train
from sysaware.cli_util import add_training_outputs, checkpoint_path, load_events, load_run_config, run_parser, setup
from sysaware.io import write_json
from sysaware.train.networks import save_model

ap = run_parser(__doc__)
ap.add_argument("--method", required=True, help="bce or inferno_bm0..inferno_bm4")
ap.add_argument("--repeat", type=int, default=0, help="index of the repeated training")
add_training_outputs(ap)
a = ap.parse_args()
log = setup(a.threads)
data = load_events(a.data)


def progress(epoch: int, train_loss: float, valid_loss: float) -> None:
    log.info("%s repeat %d epoch %d: train %.5g valid %.5g", a.method, a.repeat, epoch, train_loss, valid_loss)


net, meta, hist = train(load_run_config(a.config), a.method, a.repeat, data, progress, checkpoint_path(a))
save_model(net, a.out, meta)
write_json(a.history, {"train": hist.train, "valid": hist.valid, "best_epoch": hist.best_epoch,
                        "resumed_after_epoch": hist.resumed_after})
log.info("best epoch %d, validation loss %.5g", hist.best_epoch, hist.best_valid)
