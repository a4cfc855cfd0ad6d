# Fits of every analysis and method, from the workspace its analysis rules build at
# {RESULTS}/fit/{method}/workspace.json; then the comparison of the methods.


rule fit_results:
    input:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
    output:
        f"{RESULTS}/fit/{{method}}/fit_results.json",
    params:
        script=f"{SCRIPTS}/fit.py",
    log:
        f"{LOGS}/fit/{{method}}_results.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_results.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} results --workspace {input.workspace:q} --out {output:q} 2> {log:q}"


rule fit_scan:
    input:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
    output:
        f"{RESULTS}/fit/{{method}}/scan.json",
    params:
        script=f"{SCRIPTS}/fit.py",
    log:
        f"{LOGS}/fit/{{method}}_scan.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_scan.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} scan --workspace {input.workspace:q} --out {output:q} 2> {log:q}"


rule fit_impact:
    # one job per nuisance: the ranking scales with cores and cluster slots
    input:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
        fit=rules.fit_results.output[0],
    output:
        f"{RESULTS}/fit/{{method}}/impacts/{{parameter}}.json",
    params:
        script=f"{SCRIPTS}/fit.py",
    log:
        f"{LOGS}/fit/{{method}}_impact_{{parameter}}.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_impact_{{parameter}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} impact --workspace {input.workspace:q} --fit {input.fit:q}"
        " --parameter {wildcards.parameter:q} --out {output:q} 2> {log:q}"


rule fit_ranking:
    input:
        impacts=fit_impacts,
    output:
        f"{RESULTS}/fit/{{method}}/ranking.json",
    params:
        script=f"{SCRIPTS}/fit.py",
    log:
        f"{LOGS}/fit/{{method}}_ranking.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_ranking.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} ranking --impacts {input.impacts:q} --out {output:q} 2> {log:q}"


rule fit_plots:
    input:
        workspace=f"{RESULTS}/fit/{{method}}/workspace.json",
        fit=rules.fit_results.output[0],
        scan=rules.fit_scan.output[0],
        ranking=rules.fit_ranking.output[0],
    output:
        report(
            multiext(f"{RESULTS}/fit/{{method}}/", *FIT_FIGURES),
            category=config["analysis"],
            subcategory="{method}",
            caption="../report/fit.rst",
        ),
    params:
        script=f"{SCRIPTS}/fit.py",
        folder=output_folder,
    log:
        f"{LOGS}/fit/{{method}}_plots.log",
    benchmark:
        f"{BENCH}/fit/{{method}}_plots.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} plots --workspace {input.workspace:q} --fit {input.fit:q} --scan {input.scan:q}"
        " --ranking {input.ranking:q} --out {params.folder:q} 2> {log:q}"


rule comparison:
    input:
        fits=expand(f"{RESULTS}/fit/{{method}}/fit_results.json", method=fit_methods()),
        scans=expand(f"{RESULTS}/fit/{{method}}/scan.json", method=fit_methods()),
        rankings=expand(f"{RESULTS}/fit/{{method}}/ranking.json", method=fit_methods()),
        grid=grid_fits,
    output:
        json=f"{RESULTS}/comparison.json",
        md=report(
            f"{RESULTS}/comparison.md",
            category=config["analysis"],
            subcategory="comparison",
            caption="../report/comparison.rst",
        ),
        png=report(
            f"{RESULTS}/comparison_scans.png",
            category=config["analysis"],
            subcategory="comparison",
            caption="../report/comparison.rst",
        ),
    params:
        script=f"{SCRIPTS}/comparison.py",
        analysis=config["analysis"],
    log:
        f"{LOGS}/comparison.log",
    benchmark:
        f"{BENCH}/comparison.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/sysaware.yaml"
    shell:
        "python {params.script:q} --analysis {params.analysis:q} --fits {input.fits:q} --scans {input.scans:q}"
        " --rankings {input.rankings:q} --grid-fits {input.grid:q} --json {output.json:q} --md {output.md:q} --png {output.png:q} 2> {log:q}"
