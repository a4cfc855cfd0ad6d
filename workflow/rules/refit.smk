# Analysis "refit": fit histograms a user supplies (no ingestion, no training). Each entry
# of refit.fits is fitted as a "method" by the rules of fit.smk.


include: "inputs/refit.smk"


checkpoint refit_workspace:
    # a checkpoint: the impact jobs are one per nuisance left in the (pruned) workspace
    input:
        config=fit_inputs_config,
        histograms=refit_histogram_files,
    output:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
        pruning=f"{RESULTS}/fit/{{method}}/pruning.json",
    params:
        script=f"{SCRIPTS}/refit_workspace.py",
    log:
        f"{LOGS}/fit/{{method}}_workspace.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_workspace.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --fit {wildcards.method:q}"
        " --workspace {output.workspace:q} --pruning {output.pruning:q} 2> {log:q}"


# the checkpoint whose workspace the shared fit stage reads (fit.smk, common.smk fit_impacts)
WORKSPACE_CHECKPOINT = checkpoints.refit_workspace
