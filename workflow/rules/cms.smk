# CMS ttbar -> tau_h + jets on NanoAOD: (generator ->) ingestion per sample -> every method's
# training -> templates and workspace per method (the fit stage of fit.smk takes over).


include: "inputs/cms.smk"


rule cms_generate:
    input:
        config=data_config,
    output:
        files=expand(f"{RESULTS}/generated/{{process}}.root", process=cms_generated_processes()),
        samples=f"{RESULTS}/generated/samples.json",
        truth=f"{RESULTS}/generated/data_truth.json",
    params:
        script=f"{SCRIPTS}/cms_generate.py",
        folder=output_folder,
    log:
        f"{LOGS}/cms_generate.log",
    benchmark:
        f"{BENCH}/cms_generate.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --out {params.folder:q} 2> {log:q}"


rule cms_ingest:
    input:
        config=data_config,
        files=cms_sample_files,
    output:
        npz=f"{RESULTS}/ingested/{{sample}}.npz",
        json=f"{RESULTS}/ingested/{{sample}}.json",
    params:
        script=f"{SCRIPTS}/cms_ingest.py",
        generated=f"{RESULTS}/generated",
    log:
        f"{LOGS}/cms_ingest_{{sample}}.log",
    benchmark:
        f"{BENCH}/cms_ingest_{{sample}}.tsv"
    threads: cms_ingest_threads()
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --sample {wildcards.sample:q}"
        " --generated {params.generated:q} --out {output.npz:q} --files {input.files:q} 2> {log:q}"


rule cms_train:
    input:
        config=train_config,
        ingested=cms_ingested(),
    output:
        model=f"{RESULTS}/models/{{method}}/repeat0.pt",
        onnx=f"{RESULTS}/models/{{method}}/repeat0.onnx",
        history=f"{RESULTS}/models/{{method}}/repeat0_history.json",
    wildcard_constraints:
        method=CMS_MODEL_PATTERN,
    threads: config["threads"]
    params:
        script=f"{SCRIPTS}/cms_train.py",
    log:
        f"{LOGS}/train/{{method}}.log",
    benchmark:
        f"{BENCH}/train/{{method}}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
        # GPUs to request (0: none; raise with --set-resources cms_train:gpu=1, see profiles/)
        gpu=0,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --method {wildcards.method:q} --ingested {input.ingested:q}"
        " --threads {threads} --out {output.model:q} --onnx {output.onnx:q} --history {output.history:q} 2> {log:q}"


checkpoint cms_fit_inputs:
    # a checkpoint: the impact jobs are one per nuisance left in the (pruned) workspace
    input:
        config=fit_inputs_config,
        ingested=cms_ingested(),
        model=rules.cms_train.output.model,
    output:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
        info=f"{RESULTS}/fit/{{method}}/fit_inputs.json",
        pruning=f"{RESULTS}/fit/{{method}}/pruning.json",
    wildcard_constraints:
        method=CMS_MODEL_PATTERN,
    params:
        script=f"{SCRIPTS}/cms_fit_inputs.py",
    log:
        f"{LOGS}/fit/{{method}}_inputs.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_inputs.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --model {input.model:q} --ingested {input.ingested:q}"
        " --workspace {output.workspace:q} --info {output.info:q} --pruning {output.pruning:q} 2> {log:q}"


rule cms_grid_fit:
    # a summary with JES as an input: templates and data histogram rebuilt at JES = -1, 0, +1 sigma
    input:
        config=fit_inputs_config,
        ingested=cms_ingested(),
        model=rules.cms_train.output.model,
    output:
        f"{RESULTS}/fit/{{method}}/grid_fit.json",
    wildcard_constraints:
        method=CMS_MODEL_PATTERN,
    params:
        script=f"{SCRIPTS}/cms_grid_fit.py",
    log:
        f"{LOGS}/fit/{{method}}_grid_fit.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_grid_fit.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --config {input.config:q} --model {input.model:q} --ingested {input.ingested:q}"
        " --out {output:q} 2> {log:q}"


# the checkpoint whose workspace the shared fit stage reads (fit.smk, common.smk fit_impacts)
WORKSPACE_CHECKPOINT = checkpoints.cms_fit_inputs
