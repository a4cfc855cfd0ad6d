# The INFERNO paper's synthetic benchmark: data -> every method's trainings -> evaluation -> table.


include: "inputs/benchmark.smk"


rule benchmark_data:
    input:
        config=data_config,
    output:
        f"{RESULTS}/data/mixture.npz",
    params:
        script=f"{SCRIPTS}/benchmark_data.py",
    log:
        f"{LOGS}/benchmark_data.log",
    benchmark:
        f"{BENCH}/benchmark_data.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --out {output:q} 2> {log:q}"


rule benchmark_train:
    input:
        config=train_config,
        data=rules.benchmark_data.output[0],
    output:
        model=f"{RESULTS}/models/{{method}}/repeat{{repeat}}.pt",
        history=f"{RESULTS}/models/{{method}}/repeat{{repeat}}.history.json",
    wildcard_constraints:
        method=BENCHMARK_MODEL_PATTERN,
        repeat=r"\d+",
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        # GPUs to request (0: none; raise with --set-resources benchmark_train:gpu=1, see profiles/)
        gpu=0,
    params:
        script=f"{SCRIPTS}/benchmark_train.py",
    log:
        f"{LOGS}/train/{{method}}_repeat{{repeat}}.log",
    benchmark:
        f"{BENCH}/train/{{method}}_repeat{{repeat}}.tsv"
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --data {input.data:q}"
        " --method {wildcards.method:q} --repeat {wildcards.repeat:q} --threads {threads}"
        " --out {output.model:q} --history {output.history:q} 2> {log:q}"


rule benchmark_evaluate:
    input:
        config=train_config,
        data=rules.benchmark_data.output[0],
        model=rules.benchmark_train.output.model,
    output:
        f"{RESULTS}/eval/{{method}}/repeat{{repeat}}.json",
    wildcard_constraints:
        method=BENCHMARK_MODEL_PATTERN,
        repeat=r"\d+",
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        script=f"{SCRIPTS}/benchmark_evaluate.py",
    log:
        f"{LOGS}/eval/{{method}}_repeat{{repeat}}.log",
    benchmark:
        f"{BENCH}/eval/{{method}}_repeat{{repeat}}.tsv"
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --data {input.data:q}"
        " --model {input.model:q} --threads {threads} --out {output:q} 2> {log:q}"


rule benchmark_paper_table:
    input:
        config=table_config,
        reference=f"{config['reference_dir']}/inferno_paper_table.json",
        data=rules.benchmark_data.output[0],
        evals=benchmark_evaluations,
    output:
        json=report(
            f"{RESULTS}/paper_table.json",
            category="inferno_benchmark",
            caption="../report/paper_table.rst",
        ),
        md=report(
            f"{RESULTS}/paper_table.md",
            category="inferno_benchmark",
            caption="../report/paper_table.rst",
        ),
        png=report(
            f"{RESULTS}/paper_table.png",
            category="inferno_benchmark",
            caption="../report/paper_table.rst",
        ),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        script=f"{SCRIPTS}/benchmark_table.py",
    log:
        f"{LOGS}/paper_table.log",
    benchmark:
        f"{BENCH}/paper_table.tsv"
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --reference {input.reference:q}"
        " --data {input.data:q} --evals {input.evals:q} --json {output.json:q} --md {output.md:q} --png {output.png:q} 2> {log:q}"


checkpoint benchmark_fit_inputs:
    # a checkpoint: the impact jobs are one per nuisance left in the (pruned) workspace
    input:
        config=fit_inputs_config,
        data=rules.benchmark_data.output[0],
        model=f"{RESULTS}/models/{{method}}/repeat0.pt",
    output:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
        info=f"{RESULTS}/fit/{{method}}/fit_inputs.json",
        pruning=f"{RESULTS}/fit/{{method}}/pruning.json",
    wildcard_constraints:
        method=BENCHMARK_MODEL_PATTERN,
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        script=f"{SCRIPTS}/benchmark_fit_inputs.py",
    log:
        f"{LOGS}/fit/{{method}}_inputs.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_inputs.tsv"
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --data {input.data:q} --model {input.model:q}"
        " --threads {threads} --workspace {output.workspace:q} --info {output.info:q} --pruning {output.pruning:q} 2> {log:q}"


# the checkpoint whose workspace the shared fit stage reads (fit.smk, common.smk fit_impacts)
WORKSPACE_CHECKPOINT = checkpoints.benchmark_fit_inputs
