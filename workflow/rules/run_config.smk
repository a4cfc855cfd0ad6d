# Provenance of every run: the validated config, package versions and git commit.

# Instant bookkeeping: on a cluster it runs in the submitting Snakemake process, where the
# repository (its git commit) is, instead of waiting in the queue.
localrules:
    run_config,
    stage_config,


rule run_config:
    output:
        f"{RESULTS}/config.json",
    params:
        # its keys in sorted order: the file's own order of keys is not a change
        config=canonical(config),
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


rule stage_config:
    # the keys one stage reads (src/sysaware/stages.py), in config/<stage>.json or, for one method's
    # stages, config/<stage>/<method>.json: rerun, and the file rewritten, only when they change
    # (params), so a rule downstream reruns only when its own keys change
    output:
        f"{RESULTS}/config/{{part}}.json",
    wildcard_constraints:
        part=STAGE_PATTERN,
    params:
        slice=stage_slice,
    log:
        f"{LOGS}/config/{{part}}.log",
    benchmark:
        f"{BENCH}/config/{{part}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/sysaware.yaml"
    script:
        "../../scripts/stage_config.py"
