# Provenance of every run: the validated config, package versions and git commit.


rule run_config:
    output:
        f"{RESULTS}/config.json",
    params:
        config=config,
    log:
        f"{LOGS}/run_config.log",
    benchmark:
        f"{BENCH}/run_config.tsv"
    conda:
        "../../envs/sysaware.yaml"
    script:
        "../../scripts/run_config.py"
