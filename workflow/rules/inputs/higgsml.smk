# Input functions and names of the higgsml rules (higgsml.smk), apart from the rules (snakemake --lint).
from sysaware.higgsml import methods as higgsml_methods

# model names of the training rules: a method, or true_z_<k> (sysaware.train.methods)
HIGGSML_MODEL_PATTERN = higgsml_methods.model_pattern(config)
ANALYSIS_VARIANTS = higgsml_methods.variants


def higgsml_local_input(wildcards):
    """The HiggsML file when it is local (a URL is read by the job itself)."""
    path = config["higgsml"]["input"]
    return [] if "://" in path else [path]


def higgsml_evaluations():
    """Evaluation JSON of every trained HiggsML model."""
    return expand(f"{RESULTS}/eval/{{model}}.json", model=higgsml_methods.model_names(config))


# per method, what the fit stage writes into fit/<method>/ (results contract): every file is a target
# of rule all, so a deleted one is rebuilt
