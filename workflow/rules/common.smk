# Input functions and paths shared by the rules (no lambdas in rules).
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


def all_targets():
    """Final products of the configured analysis."""
    if config["analysis"] == "inferno_benchmark":
        return [f"{RESULTS}/paper_table.{ext}" for ext in ("json", "md", "png")]
    raise ValueError(f"analysis {config['analysis']!r} has no rules")
