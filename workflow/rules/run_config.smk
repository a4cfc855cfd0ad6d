# Provenance of every run: the validated config, package versions and git commit.

# Instant bookkeeping: on a cluster it runs in the submitting Snakemake process, where the
# repository (its git commit) is, instead of waiting in the queue.
localrules:
    run_config,


rule run_config:
    output:
        f"{RESULTS}/config.json",
    params:
        config=config,
    log:
        f"{LOGS}/run_config.log",
    benchmark:
        f"{BENCH}/run_config.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/sysaware.yaml"
    script:
        "../../scripts/run_config.py"
