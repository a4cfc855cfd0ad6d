#!/usr/bin/env bash
# Install a single-node Slurm cluster with accounting (Debian 12 packages).
# Idempotent: apt-get install of already-installed packages is a no-op, and
# the apt index is only refreshed when a package is missing.
set -euo pipefail

# Packages:
#   slurm-wlm       slurmctld + slurmd + client commands (sinfo, srun, sbatch, sacct, ...)
#   slurmdbd        accounting daemon (sacct needs it; the Snakemake slurm executor polls sacct)
#   munge           authentication between Slurm daemons and clients
#   mariadb-server  storage backend for slurmdbd
#   mariadb-client  `mariadb` CLI used by start.sh to create the accounting DB/user
#   procps          pgrep/pkill/ps used by start.sh / stop.sh
#   hostname        `hostname -s`
PKGS=(slurm-wlm slurmdbd munge mariadb-server mariadb-client procps hostname)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install.sh: all packages already installed: ${PKGS[*]}"
else
    echo "install.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # No systemd/sysvinit in the container: stop package postinst scripts from
    # trying to start daemons (policy-rc.d exit 101 = "action forbidden").
    # Only created if absent, and removed again afterwards.
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    trap 'if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "install.sh: versions:"
dpkg-query -W -f='  ${Package} ${Version}\n' "${PKGS[@]}"
