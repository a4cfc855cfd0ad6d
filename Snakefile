# sysaware: systematic-aware neural summaries, from events to profile-likelihood fits.
#   snakemake --cores 2                                   default analysis (config/config.yaml)
#   snakemake --cores 2 --configfile config/<name>.yaml   another analysis
#   snakemake --cores 2 <target>                          one figure or table
from snakemake.utils import min_version

min_version("9.0")


# the default analysis, unless --configfile names another one: that file is then the whole config
# (merged over this one, the default's entries, e.g. its cms.norm_systematics, would leak into it)
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



# stops before any job, naming the offending key: a section or method the analysis does not use, the
# schema (package data, src/sysaware/schemas/config.schema.yaml, which fills in the defaults), the
# cross-references (samples named by systematics, bounds, binnings); keeps only the analysis's own
# sections (src/sysaware/config.py prepare_config, which load_config runs too)
from sysaware.config import prepare_config

prepare_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/run_config.smk"


# the analysis's own rules (its entry in the registry, src/sysaware/<analysis>/analysis.py); the
# shared fit stage fits the fit/{method}/workspace.json they write
include: f"workflow/rules/{ANALYSIS.rules}"


if ANALYSIS.shared_fit:

    include: "workflow/rules/fit.smk"


include: "workflow/rules/toys.smk"


rule all:
    input:
        all_targets(),
    default_target: True
