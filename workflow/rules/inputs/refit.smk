# Input functions and names of the refit rules (refit.smk), apart from the rules (snakemake --lint).
from sysaware.refit.entries import refit_input_files

ANALYSIS_VARIANTS = None


def refit_histogram_files(wildcards):
    """Local ROOT files one refit entry reads (a missing one stops the run before any job)."""
    return refit_input_files(config["refit"]["fits"][wildcards.method], config.get("fit", {}).get("symmetrize", []))
