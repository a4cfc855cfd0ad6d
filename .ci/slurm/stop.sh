#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by start.sh, in reverse start
# order: slurmd -> slurmctld -> slurmdbd -> mariadbd -> munged.
# Daemons are found through their pid files (not by name), so nothing else on
# the machine is touched.  Safe to run when nothing is running.
# State (accounting DB, slurmctld state, munge key, configs) is kept, so a
# following start.sh is a warm restart.
set -euo pipefail

# RUNDIR, pidfile_of, pid_of, stop_daemon (shared with start.sh)
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Jobs still queued/running would be requeued/lost anyway; cancel them so the
# next start does not begin with leftovers (ignored if slurmctld is down).
if pid_of slurmctld >/dev/null; then
    scancel --state=PENDING  >/dev/null 2>&1 || true
    scancel --state=RUNNING  >/dev/null 2>&1 || true
fi

for d in slurmd slurmctld slurmdbd mariadbd munged; do
    stop_daemon "$d"
done
echo "stop.sh: done"
