# The seed talks' toy figures, for any config: snakemake --cores 1 <results_dir>/toys/classifier_output.png


rule toy_classifier_output:
    output:
        png=report(
            f"{config['results_dir']}/toys/classifier_output.png",
            category="toys",
            caption="../report/toy_classifier_output.rst",
        ),
        json=f"{config['results_dir']}/toys/classifier_output.json",
    params:
        script=f"{SCRIPTS}/toy_classifier_output.py",
    log:
        f"{config['results_dir']}/toys/logs/classifier_output.log",
    benchmark:
        f"{config['results_dir']}/toys/benchmarks/classifier_output.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --png {output.png:q} --json {output.json:q} 2> {log:q}"


rule toy_pivot:
    output:
        png=report(
            f"{config['results_dir']}/toys/pivot.png",
            category="toys",
            caption="../report/toy_pivot.rst",
        ),
        json=f"{config['results_dir']}/toys/pivot.json",
    params:
        script=f"{SCRIPTS}/toy_pivot.py",
        seed=config["seed"],
    threads: 1
    log:
        f"{config['results_dir']}/toys/logs/pivot.log",
    benchmark:
        f"{config['results_dir']}/toys/benchmarks/pivot.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --seed {params.seed:q} --threads {threads} --png {output.png:q} --json {output.json:q} 2> {log:q}"
