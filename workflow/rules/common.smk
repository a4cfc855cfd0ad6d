# Input functions and paths shared by the rules (no lambdas in rules).
import json
import os
import sys

from snakemake.logging import logger

# light modules only: parsing the Snakefile imports neither torch nor pyhf (tests/test_structure.py)
from sysaware.analyses import analysis
from sysaware.benchmark import methods as benchmark_methods
from sysaware.cms import methods as cms_methods
from sysaware.cms.ingestion.remote import rule_inputs as cms_rule_inputs
from sysaware.higgsml import methods as higgsml_methods
from sysaware.refit.entries import refit_input_files
from sysaware.run_guard import guard_results_folder

RESULTS = f"{config['results_dir']}/{config['analysis']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SCRIPTS = f"{workflow.basedir}/scripts"

# one executing run at a time per results folder: a second one stops here, naming the first;
# locks left by a killed run are explained (src/sysaware/run_guard.py)
RUN_LOCK = guard_results_folder(RESULTS, workflow.is_main_process, sys.argv, logger)


def repeats():
    """Indices of the repeated trainings."""
    return list(range(config["benchmark"]["n_repeats"]))


def benchmark_evaluations(wildcards):
    """Every evaluation the paper table aggregates."""
    return expand(
        f"{RESULTS}/eval/{{method}}/repeat{{repeat}}.json",
        method=benchmark_methods.method_names(config),
        repeat=repeats(),
    )


# figures of every fit (results contract, docs/results.md)
FIT_FIGURES = (
    "pulls.png",
    "ranking.png",
    "correlation.png",
    "scan.png",
    "data_mc.png",
    "data_mc_prefit.png",
    "data_mc_postfit.png",
)


def output_folder(wildcards, output):
    """Folder of a rule's first output (for scripts that write several files into it)."""
    return os.path.dirname(output[0])


def fit_methods():
    """What is fitted: every trained model (repeat 0), or every entry of refit.fits (src/sysaware/analyses.py)."""
    return analysis(config["analysis"]).methods(config)


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


def refit_histogram_files(wildcards):
    """Local ROOT files one refit entry reads (a missing one stops the run before any job)."""
    return refit_input_files(config["refit"]["fits"][wildcards.method], config.get("fit", {}).get("symmetrize", []))


def workspace_checkpoint():
    """The checkpoint that writes fit/{method}/workspace.json for this analysis."""
    if config["analysis"] == "refit":
        return checkpoints.refit_workspace
    if config["analysis"] == "cms_ttbar_taujets":
        return checkpoints.cms_fit_inputs
    return checkpoints.benchmark_fit_inputs


def fit_impacts(wildcards):
    """Impact JSONs of one method, one per nuisance of its (pruned) workspace."""
    from sysaware.fit import nuisance_names  # heavy (pyhf, cabinetry): only once a workspace exists

    path = workspace_checkpoint().get(method=wildcards.method).output.workspace
    with open(path) as fh:
        names = nuisance_names(json.load(fh))
    return expand(f"{RESULTS}/fit/{wildcards.method}/impacts/{{parameter}}.json", parameter=names)


# the model names of each analysis's training rules (methods of sysaware.train.methods)
HIGGSML_MODEL_PATTERN = higgsml_methods.model_pattern(config) if config["analysis"] == "higgsml_tes" else "(?!)"
BENCHMARK_MODEL_PATTERN = benchmark_methods.model_pattern(config) if config["analysis"] == "inferno_benchmark" else "(?!)"
CMS_MODEL_PATTERN = cms_methods.model_pattern(config) if config["analysis"] == "cms_ttbar_taujets" else "(?!)"


def higgsml_local_input(wildcards):
    """The HiggsML file when it is local (a URL is read by the job itself)."""
    path = config["higgsml"]["input"]
    return [] if "://" in path else [path]


def higgsml_evaluations():
    """Evaluation JSON of every trained HiggsML model."""
    return expand(f"{RESULTS}/eval/{{model}}.json", model=higgsml_methods.model_names(config))


# per method, what the fit stage writes into fit/<method>/ (results contract): every file is a target
# of rule all, so a deleted one is rebuilt
FIT_CONTRACT = ("workspace.json", "pruning.json", "fit_results.json", "scan.json", "ranking.json", *FIT_FIGURES)


def contract_targets():
    """Every file of the configured analysis's results contract."""
    analysis = config["analysis"]
    comparison = [f"{RESULTS}/comparison.{ext}" for ext in ("json", "md")]
    if analysis == "higgsml_tes":
        fits = expand(f"{RESULTS}/fit/{{method}}/fit_results.json", method=higgsml_methods.method_names(config))
        return comparison + [f"{RESULTS}/profile_scans.png", f"{RESULTS}/prepared/summary.json"] + fits
    if analysis not in ("inferno_benchmark", "refit", "cms_ttbar_taujets"):
        raise ValueError(f"analysis {analysis!r} has no rules")
    fits = expand(f"{RESULTS}/fit/{{method}}/{{file}}", method=fit_methods(), file=FIT_CONTRACT)
    out = [f"{RESULTS}/config.json"] + fits + comparison + [f"{RESULTS}/comparison_scans.png"]
    if analysis == "inferno_benchmark":
        out += [f"{RESULTS}/paper_table.{ext}" for ext in ("json", "md", "png")]
    return out


def all_targets():
    """Final products of the configured analysis (its whole results contract).

    Under ``snakemake --report``, only those that exist: a report after a partial run shows what
    was made and the log lists what is missing (Snakemake itself refuses a report with any of
    its files missing)."""
    targets = contract_targets()
    if not reporting():
        return targets
    missing = [t for t in targets if not os.path.exists(t)]
    if missing:
        logger.warning(f"report: {len(missing)} of {len(targets)} result files do not exist yet and are "
                       "left out of the report (run the workflow to make them):\n  " + "\n  ".join(missing))
    return [t for t in targets if os.path.exists(t)]


def reporting():
    """True when this Snakemake process only writes a report (``--report``), nothing is run."""
    return any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv[1:])
