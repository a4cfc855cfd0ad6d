# sysaware: systematic-aware neural summaries, from events to profile-likelihood fits.
#   snakemake --cores 2                                   default analysis (config/config.yaml)
#   snakemake --cores 2 --configfile config/<name>.yaml   another analysis
#   snakemake --cores 2 <target>                          one figure or table
from snakemake.utils import min_version, validate

min_version("9.0")


# the default analysis, unless --configfile names another one: that file is then the whole config
# (merged over this one, the default's entries, e.g. its cms.norm_systematics, would leak into it)
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



# stops before any job, naming the offending key; fills in the schema's defaults.
# The schema is package data (src/sysaware/schemas/config.schema.yaml), the file load_config uses too.
from sysaware.config import SCHEMA

validate(config, schema=str(SCHEMA), set_default=True)


# ... and its cross-references (samples named by systematics, bounds, binnings), also before any job
from sysaware.config_checks import check_config

check_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/run_config.smk"


# the analysis's own rules write fit/{method}/workspace.json; the fit stage is shared
if config["analysis"] == "refit":

    include: "workflow/rules/refit.smk"

elif config["analysis"] == "cms_ttbar_taujets":

    include: "workflow/rules/cms.smk"

elif config["analysis"] == "higgsml_tes":

    # its own profile of (mu, z) with templates rebuilt on a grid of z (no HistFactory workspace)
    include: "workflow/rules/higgsml.smk"

else:

    include: "workflow/rules/benchmark.smk"


if config["analysis"] != "higgsml_tes":

    include: "workflow/rules/fit.smk"

include: "workflow/rules/toys.smk"


rule all:
    input:
        all_targets(),
    default_target: True
