"""Train one HiggsML TES model (any method: bce, augment, aware, pivot, disco, inferno or true_z_<k>).

  python scripts/higgsml_train.py --config results/higgsml_tes/config.json --events prepared/events.npz \\
      --model aware --out models/aware.pt --history models/aware_history.json
"""

from __future__ import annotations

from sysaware.cli_util import add_training_outputs, checkpoint_path, config_parser, load_run_config, setup
from sysaware.higgsml.dataset import load
from sysaware.higgsml.training import HiggsMLData
from sysaware.io import write_json
from sysaware.train.networks import save_model
from sysaware.train.run import train

ap = config_parser(__doc__)
ap.add_argument("--events", required=True, help="prepared events .npz (rule higgsml_prepare)")
ap.add_argument("--model", required=True, help="model name: a method, or true_z_<k>")
add_training_outputs(ap)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
log = setup(a.threads)
cfg = load_run_config(a.config)
data = load(a.events, cfg)


def progress(epoch: int, train_loss: float, valid_loss: float) -> None:
    log.info("epoch %d: train %.5g valid %.5g", epoch, train_loss, valid_loss)


net, meta, hist = train(cfg, HiggsMLData(cfg, data), a.model, 0, progress, checkpoint_path(a))
save_model(net, a.out, meta)
write_json(a.history, {"train": hist.train, "valid": hist.valid, "best_epoch": hist.best_epoch,
                        "resumed_after_epoch": hist.resumed_after})
log.info("%s: best epoch %d, valid loss %.5g", a.model, hist.best_epoch, hist.best_valid)
