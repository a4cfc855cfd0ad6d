"""Fit stage of any analysis, one sub-command per Snakemake rule (all read a pyhf workspace JSON).

  results   maximum likelihood + MINOS, stat-only and Asimov fits -> fit_results.json
  scan      likelihood scan of the POI -> scan.json
  impact    pre- and post-fit impact of ONE nuisance on the POI -> impact JSON
  ranking   merge impact JSONs -> ranking.json
  plots     pulls, correlation, scan, ranking, data/MC and template-variation figures
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sysaware.cli_util import setup
from sysaware.io import write_json


def _load(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["results", "scan", "impact", "ranking", "plots"])
    ap.add_argument("--workspace", help="pyhf workspace JSON")
    ap.add_argument("--fit", help="fit_results.json (impact, plots)")
    ap.add_argument("--scan", help="scan.json (plots)")
    ap.add_argument("--ranking", help="ranking.json (plots)")
    ap.add_argument("--parameter", help="nuisance parameter (impact)")
    ap.add_argument("--impacts", nargs="*", default=[], help="impact JSONs (ranking)")
    ap.add_argument("--steps", type=int, default=41, help="scan points")
    ap.add_argument("--out", required=True, help="output JSON, or the figure folder for plots")
    a = ap.parse_args()
    log = setup(1)
    from sysaware import fit as F  # after logging is set up: cabinetry logs through it

    if a.command == "results":
        res = F.fit_results(_load(a.workspace))
        for w in res.get("warnings", []):
            log.warning("%s: %s", a.workspace, w)
        write_json(a.out, res)
    elif a.command == "scan":
        write_json(a.out, F.poi_scan(_load(a.workspace), n_steps=a.steps))
    elif a.command == "impact":
        write_json(a.out, F.nuisance_impact(_load(a.workspace), a.parameter, fit=_load(a.fit)))
    elif a.command == "ranking":
        write_json(a.out, F.merge_ranking([_load(p) for p in a.impacts]))
    else:
        ws = _load(a.workspace)
        Path(a.out).mkdir(parents=True, exist_ok=True)
        F.plot_fit(ws, _load(a.fit), a.out, scan=_load(a.scan), ranking=_load(a.ranking))
        F.plot_template_variations(ws, a.out)
    log.info("%s -> %s", a.command, a.out)


if __name__ == "__main__":
    main()
