"""Write the built-in generator's NanoAOD files of the tau+jets analysis (simulation and pseudo-data).

  python scripts/cms_generate.py --config results/cms_ttbar_taujets/config.json --out results/cms_ttbar_taujets/generated
"""

from __future__ import annotations

from sysaware.cli_util import config_parser, load_run_config, setup
from sysaware.cms.pipeline import generate

ap = config_parser(__doc__)
ap.add_argument("--out", required=True, help="output folder")
a = ap.parse_args()
log = setup(1)
for name, path in generate(load_run_config(a.config), a.out).items():
    log.info("%s -> %s", name, path)
