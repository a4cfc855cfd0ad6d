# Input functions and names of the cms rules (cms.smk), apart from the rules (snakemake --lint).
from sysaware.cms import methods as cms_methods
from sysaware.cms.ingestion.remote import rule_inputs as cms_rule_inputs

# model names of the training rules: every enabled method the config can train (sysaware.train.methods)
CMS_MODEL_PATTERN = cms_methods.model_pattern(config)
ANALYSIS_VARIANTS = cms_methods.variants
# the fits with templates and data rebuilt at each JES (summaries with JES as an input), for the comparison
GRID_FIT_FILES = expand(f"{RESULTS}/fit/{{method}}/grid_fit.json", method=cms_methods.grid_fit_methods(config))


def cms_generated_processes():
    """Generator processes the cms samples read."""
    return [s["generated"] for s in config["cms"]["samples"] if "generated" in s]


def cms_sample_files(wildcards):
    """Input files of one cms sample: its local files; its URLs too with cms.remote_inputs stage,
    fetched by Snakemake's storage plugins (storage.http / storage.xrootd) before the job.
    With cms.remote_inputs direct (default) the job reads the URLs itself."""
    for s in config["cms"]["samples"]:
        if s["name"] == wildcards.sample:
            if "generated" in s:
                return [f"{RESULTS}/generated/{s['generated']}.root"]
            mode = config["cms"].get("remote_inputs", "direct")
            return [getattr(storage, p)(f) if p else f for p, f in cms_rule_inputs(s["files"], mode)]
    raise ValueError(f"cms.samples has no sample {wildcards.sample!r}")


def cms_ingest_threads():
    """Cores of one ingestion job: those of its local Dask cluster (cms.executor dask), else 1."""
    if config["cms"].get("executor", "iterative") != "dask":
        return 1
    from sysaware.cms.ingestion.distributed import DaskOptions

    return max(1, DaskOptions.from_config(config["cms"].get("dask", {})).local_threads)


def cms_ingested():
    """Ingested arrays of every cms sample."""
    return expand(f"{RESULTS}/ingested/{{sample}}.npz", sample=[s["name"] for s in config["cms"]["samples"]])
