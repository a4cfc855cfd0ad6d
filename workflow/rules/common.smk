# Input functions and paths shared by the rules (no lambdas in rules).
import json
import os
import sys

from snakemake.logging import logger

# light modules only: parsing the Snakefile imports neither torch nor pyhf (tests/test_structure.py)
from sysaware.analyses import analysis
from sysaware.run_guard import guard_results_folder
from sysaware.stages import STAGES, canonical, stage_config
from sysaware.train.methods import parse_model_name

# the configured analysis's entry in the registry (src/sysaware/<analysis>/analysis.py)
ANALYSIS = analysis(config["analysis"])

RESULTS = f"{config['results_dir']}/{config['analysis']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SCRIPTS = f"{workflow.basedir}/scripts"

# one executing run at a time per results folder: a second one stops here, naming the first;
# locks left by a killed run are explained (src/sysaware/run_guard.py)
RUN_LOCK = guard_results_folder(RESULTS, workflow.is_main_process, sys.argv, logger)


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
    return ANALYSIS.methods(config)


# ---- the config, one slice per stage: a rule reads the keys of its stage only, so changing a
# training key reruns training and what follows, never the events; a fit option, the fit stage only
# (src/sysaware/stages.py)


def stage_file(stage, method=None):
    """Path of the config slice of one stage (and one method: its own options only)."""
    return f"{RESULTS}/config/{stage}.json" if method is None else f"{RESULTS}/config/{stage}/{method}.json"


# config/<stage>.json, or config/<stage>/<method>.json
STAGE_PATTERN = "|".join(STAGES) + "|(?:" + "|".join(STAGES) + ")/[^/]+"


def stage_slice(wildcards):
    """The content of one config slice (the params of stage_config, which reruns when the slice changes)."""
    stage, _, method = wildcards.part.partition("/")
    return stage_config(config, ANALYSIS, stage, training_method(method) if method else None)


def training_method(model):
    """The method of a model name (``inferno_bm4`` -> ``inferno``), or the name itself (a refit entry)."""
    if ANALYSIS.capabilities is None:
        return model
    return parse_model_name(config, model, ANALYSIS.training_capabilities(config), ANALYSIS_VARIANTS)[0].name


def data_config(wildcards):
    """Config slice of the stage that makes the events."""
    return stage_file("data")


def train_config(wildcards):
    """Config slice of one model's training and evaluation."""
    return stage_file("train", wildcards.get("method") or wildcards.get("model"))


def fit_inputs_config(wildcards):
    """Config slice of one method's templates and workspace."""
    return stage_file("fit_inputs", wildcards.method)


def table_config(wildcards):
    """Config slice of the tables that read every model."""
    return stage_file("table")


# fits with templates and data rebuilt on a grid of a nuisance (an analysis's inputs may list some)
GRID_FIT_FILES = []


def grid_fits(wildcards):
    """The grid fits the comparison lists beside the methods' fits."""
    return GRID_FIT_FILES


def fit_impacts(wildcards):
    """Impact JSONs of one method, one per nuisance of its (pruned) workspace."""
    from sysaware.fit import nuisance_names  # heavy (pyhf, cabinetry): only once a workspace exists

    path = WORKSPACE_CHECKPOINT.get(method=wildcards.method).output.workspace
    with open(path) as fh:
        names = nuisance_names(json.load(fh))
    return expand(f"{RESULTS}/fit/{wildcards.method}/impacts/{{parameter}}.json", parameter=names)




FIT_CONTRACT = ("workspace.json", "pruning.json", "fit_results.json", "scan.json", "ranking.json", *FIT_FIGURES)


def contract_targets():
    """Every file of the configured analysis's results contract (docs/results.md)."""
    out = [f"{RESULTS}/config.json"] + [f"{RESULTS}/{path}" for path in ANALYSIS.result_files(config)]
    if ANALYSIS.shared_fit:
        out += expand(f"{RESULTS}/fit/{{method}}/{{file}}", method=fit_methods(), file=FIT_CONTRACT)
        out += [f"{RESULTS}/comparison.{ext}" for ext in ("json", "md")] + [f"{RESULTS}/comparison_scans.png"]
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
