"""Write the validated config of this run, with package versions and git commit.

Under Snakemake (``script:``) it takes the workflow's config; from the command line:
``python scripts/run_config.py --config config/config.yaml --out results/x/config.json``
(the YAML is validated against the same schema, through a safe loader).
"""

import argparse

from sysaware.config import load_config
from sysaware.io import write_json
from sysaware.provenance import git_commit, package_versions


def main(config: dict, out: str) -> None:
    write_json(out, {"config": config, "versions": package_versions(), "git_commit": git_commit()})


if "snakemake" in globals():
    main(dict(snakemake.params.config), snakemake.output[0])  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        fh.write(f"wrote {snakemake.output[0]}\n")  # noqa: F821
elif __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    main(load_config(a.config), a.out)
