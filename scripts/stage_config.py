"""Write one stage's slice of the run config (the keys it reads, sysaware.stages), in the format of
config.json (``{"config": ...}``), so that every stage script reads it with load_run_config."""

from sysaware.io import write_json

write_json(snakemake.output[0], {"config": dict(snakemake.params.slice)})  # noqa: F821
with open(snakemake.log[0], "w") as fh:  # noqa: F821
    fh.write(f"wrote {snakemake.output[0]}\n")  # noqa: F821
