#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by start.sh, in reverse start
# order: slurmd -> slurmctld -> slurmdbd -> mariadbd -> munged.
# Daemons are found through their pid files (not by name), so nothing else on
# the machine is touched.  Safe to run when nothing is running.
# State (accounting DB, slurmctld state, munge key, configs) is kept, so a
# following start.sh is a warm restart.
set -euo pipefail

# RUNDIR, pidfile_of, pid_of (shared with start.sh)
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# stop_daemon NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_daemon() {
    local name="$1" pid
    if ! pid="$(pid_of "$name")"; then
        echo "stop.sh: $name not running"
        return 0
    fi
    echo "stop.sh: stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    echo "stop.sh: warning: $name (pid $pid) ignored SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

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
