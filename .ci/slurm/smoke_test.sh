#!/usr/bin/env bash
# End-to-end check of the cluster from start.sh with Snakemake's slurm executor:
# a 3-rule workflow in a temp dir, submitted with sbatch by the plugin, then
# checks the outputs and that sacct shows every job of the run COMPLETED.
#
# Usage: SNAKEMAKE=/path/to/venv/bin/snakemake .ci/slurm/smoke_test.sh
# (the venv needs snakemake + snakemake-executor-plugin-slurm).
set -euo pipefail

SNAKEMAKE="${SNAKEMAKE:-snakemake}"
ACCOUNT="${SLURM_CI_ACCOUNT:-ci}"
PARTITION="${SLURM_CI_PARTITION:-debug}"

work="$(mktemp -d /tmp/slurm-smoke.XXXXXX)"
cd "$work"
cat > Snakefile <<'SMK'
SAMPLES = ["a", "b"]

rule all:
    input: "results/summary.txt"

rule make:
    output: "results/{s}.txt"
    threads: 1
    resources:
        mem_mb=200,
        runtime=2,            # minutes -> sbatch -t 2
    shell:
        "echo sample={wildcards.s} job=$SLURM_JOB_ID cpus=$SLURM_CPUS_PER_TASK > {output}"

rule summarize:
    input: expand("results/{s}.txt", s=SAMPLES)
    output: "results/summary.txt"
    threads: 2                # -> sbatch --cpus-per-task=2
    resources:
        mem_mb=300,
        runtime=3,
    shell:
        "cat {input} > {output}; echo summary job=$SLURM_JOB_ID cpus=$SLURM_CPUS_PER_TASK >> {output}"
SMK

t0=$(date +%s)
# --slurm-init-seconds-before-status-checks 2: the plugin's default first poll
#   is after 40 s, which makes a tiny workflow take minutes.
# --latency-wait 5: same filesystem, outputs appear at once.
"$SNAKEMAKE" --executor slurm --jobs 2 \
    --default-resources "slurm_account=$ACCOUNT" "slurm_partition=$PARTITION" \
    --slurm-init-seconds-before-status-checks 2 --latency-wait 5 \
    > snakemake.log 2>&1 || { tail -n 60 snakemake.log >&2; echo "smoke_test.sh: snakemake failed ($work)" >&2; exit 1; }
echo "smoke_test.sh: snakemake finished in $(( $(date +%s) - t0 ))s"

grep -qx 'sample=a job=[0-9]* cpus=1' results/a.txt
grep -qx 'sample=b job=[0-9]* cpus=1' results/b.txt
grep -qx 'summary job=[0-9]* cpus=2' results/summary.txt

# Slurm job name = the run's UUID (printed as "SLURM run ID: ...").
run_id="$(sed -n 's/^SLURM run ID: //p' snakemake.log | head -n 1)"
states="$(sacct -n -X -P --name="$run_id" -S now-3600 -o JobID,State)"
echo "$states"
[ "$(echo "$states" | grep -c '|COMPLETED$')" = 3 ] \
    || { echo "smoke_test.sh: expected 3 COMPLETED jobs in sacct" >&2; exit 1; }
rm -rf "$work"
echo "smoke_test.sh: OK"
