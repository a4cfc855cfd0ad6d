"""The ``sysaware`` command: check configs, digest results folders, list the training methods.

    sysaware check CONFIG...   validate configs (schema and cross-checks); exit 1 if one fails
    sysaware digest RESULTS    content digests of a results folder (two runs must agree)
    sysaware methods           the analyses and the training methods each supports

``sysaware <command> --help`` describes each command.  The workflow itself runs with
``snakemake`` (README.md); the results it writes are described in docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import digest


def training_methods() -> dict[str, list[str]]:
    """Training methods each analysis supports, by analysis name (``refit`` trains none): every
    method of :mod:`sysaware.train.methods` whose needs its data can meet (the registry,
    :mod:`sysaware.analyses`)."""
    from .analyses import ANALYSES

    return {name: entry.training_methods({}) for name, entry in ANALYSES.items()}


def _check(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config

    failed = 0
    for path in args.configs:
        try:
            cfg = load_config(path)
        except ConfigError as err:
            failed += 1
            print(f"FAIL {err}", file=sys.stderr)
        else:
            print(f"OK {path} (analysis {cfg['analysis']})")
    return 1 if failed else 0


def _methods(args: argparse.Namespace) -> int:
    methods = training_methods()
    if args.json:
        print(json.dumps(methods, indent=2))
        return 0
    for analysis, names in methods.items():
        print(f"{analysis}: {', '.join(names) if names else '(no training: fits the histograms of refit.fits)'}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sysaware`` command, one subcommand per task."""
    from .config import SCHEMA

    ap = argparse.ArgumentParser(prog="sysaware", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check", help="validate config files against the schema and the cross-checks",
        description="Validate each config as `snakemake --configfile CONFIG` does before any job: the "
                    f"JSON schema ({SCHEMA}) with its defaults, then the cross-references "
                    "(sysaware.config_checks). Prints OK per valid file and, for each invalid one, "
                    "the message naming the file and the key; exits 1 if any config fails.")
    check.add_argument("configs", nargs="+", metavar="CONFIG", help="config YAML file(s)")
    check.set_defaults(run=_check)

    dig = sub.add_parser(
        "digest", help="content digests of a results folder (reproducibility)",
        description=digest.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    digest.add_arguments(dig)
    dig.set_defaults(run=digest.run)

    meth = sub.add_parser(
        "methods", help="list the analyses and the training methods each supports",
        description="The analyses (config key `analysis`) and the training methods each one supports "
                    "(config section `methods`; the benchmark's INFERNO models are inferno_bm<k>, "
                    "k the benchmark its loss uses).")
    meth.add_argument("--json", action="store_true", help="print the table as JSON")
    meth.set_defaults(run=_methods)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sysaware`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
