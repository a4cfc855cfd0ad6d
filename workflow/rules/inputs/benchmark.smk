# Input functions and names of the benchmark rules (benchmark.smk), apart from the rules (snakemake --lint).
from sysaware.benchmark import methods as benchmark_methods

# model names of the training rules: every enabled method (sysaware.train.methods)
BENCHMARK_MODEL_PATTERN = benchmark_methods.model_pattern(config)
ANALYSIS_VARIANTS = benchmark_methods.variants


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
