# HiggsML H -> tau tau with the tau energy scale as the nuisance: prepare the events -> train every
# method (true_z: one model per true z) -> profiled (mu, z) likelihood of each model at each true z
# -> comparison.json/.md, the -2 delta ln L figure and fit/<method>/fit_results.json.


include: "inputs/higgsml.smk"


rule higgsml_prepare:
    input:
        config=data_config,
        events=higgsml_local_input,
    output:
        events=f"{RESULTS}/prepared/events.npz",
        summary=f"{RESULTS}/prepared/summary.json",
    params:
        script=f"{SCRIPTS}/higgsml_prepare.py",
    log:
        f"{LOGS}/higgsml_prepare.log",
    benchmark:
        f"{BENCH}/higgsml_prepare.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --out {output.events:q} --summary {output.summary:q} 2> {log:q}"


rule higgsml_train:
    input:
        config=train_config,
        events=rules.higgsml_prepare.output.events,
    output:
        model=f"{RESULTS}/models/{{model}}.pt",
        history=f"{RESULTS}/models/{{model}}_history.json",
    wildcard_constraints:
        model=HIGGSML_MODEL_PATTERN,
    threads: config["threads"]
    params:
        script=f"{SCRIPTS}/higgsml_train.py",
    log:
        f"{LOGS}/train/{{model}}.log",
    benchmark:
        f"{BENCH}/train/{{model}}.tsv"
    resources:
        mem_mb=4000,
        runtime=120,
        # GPUs to request (0: none; raise with --set-resources higgsml_train:gpu=1, see profiles/)
        gpu=0,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --events {input.events:q} --model {wildcards.model:q}"
        " --threads {threads} --out {output.model:q} --history {output.history:q} 2> {log:q}"


rule higgsml_evaluate:
    input:
        config=train_config,
        events=rules.higgsml_prepare.output.events,
        model=rules.higgsml_train.output.model,
    output:
        f"{RESULTS}/eval/{{model}}.json",
    wildcard_constraints:
        model=HIGGSML_MODEL_PATTERN,
    threads: 1
    params:
        script=f"{SCRIPTS}/higgsml_evaluate.py",
    log:
        f"{LOGS}/eval/{{model}}.log",
    benchmark:
        f"{BENCH}/eval/{{model}}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --events {input.events:q} --model {input.model:q}"
        " --threads {threads} --out {output:q} 2> {log:q}"


rule higgsml_comparison:
    input:
        config=table_config,
        evals=higgsml_evaluations(),
    output:
        json=f"{RESULTS}/comparison.json",
        md=report(f"{RESULTS}/comparison.md", category="higgsml_tes", subcategory="comparison",
                  caption="../report/higgsml_comparison.rst"),
        png=report(f"{RESULTS}/profile_scans.png", category="higgsml_tes", subcategory="comparison",
                   caption="../report/higgsml_comparison.rst"),
        fits=expand(f"{RESULTS}/fit/{{method}}/fit_results.json", method=higgsml_methods.method_names(config)),
    params:
        script=f"{SCRIPTS}/higgsml_comparison.py",
        fit_dir=f"{RESULTS}/fit",
    log:
        f"{LOGS}/comparison.log",
    benchmark:
        f"{BENCH}/comparison.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --evals {input.evals:q} --json {output.json:q}"
        " --md {output.md:q} --png {output.png:q} --fit-dir {params.fit_dir:q} 2> {log:q}"
