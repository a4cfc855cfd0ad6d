# Input functions and paths shared by the rules (no lambdas in rules).
import os

from sysaware.benchmark.fit_templates import FIT_NUISANCES
from sysaware.benchmark.pipeline import method_names

RESULTS = f"{config['results_dir']}/{config['analysis']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SCRIPTS = f"{workflow.basedir}/scripts"


def repeats():
    """Indices of the repeated trainings."""
    return list(range(config["benchmark"]["n_repeats"]))


def benchmark_evaluations(wildcards):
    """Every evaluation the paper table aggregates."""
    return expand(
        f"{RESULTS}/eval/{{method}}/repeat{{repeat}}.json",
        method=method_names(config),
        repeat=repeats(),
    )


# figures of every fit (results contract, DESIGN.md section 5)
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
    """Methods whose summaries are fitted: every trained model (repeat 0)."""
    return method_names(config)


def fit_nuisance_names():
    """Nuisance parameters of the analysis's fit model (one impact job each)."""
    if config["analysis"] == "inferno_benchmark":
        return list(FIT_NUISANCES)
    raise ValueError(f"analysis {config['analysis']!r} has no fit model")


def fit_impacts(wildcards):
    """Impact JSONs of one method, one per nuisance."""
    return expand(
        f"{RESULTS}/fit/{wildcards.method}/impacts/{{parameter}}.json",
        parameter=fit_nuisance_names(),
    )


def all_targets():
    """Final products of the configured analysis."""
    if config["analysis"] == "inferno_benchmark":
        tables = [f"{RESULTS}/paper_table.{ext}" for ext in ("json", "md", "png")]
        figures = expand(f"{RESULTS}/fit/{{method}}/{{fig}}", method=fit_methods(), fig=FIT_FIGURES)
        comparison = [f"{RESULTS}/comparison.{ext}" for ext in ("json", "md")]
        return tables + figures + comparison + [f"{RESULTS}/comparison_scans.png"]
    raise ValueError(f"analysis {config['analysis']!r} has no rules")
