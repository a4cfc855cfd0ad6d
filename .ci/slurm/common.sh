# Shared by start.sh and stop.sh: where the daemons keep their pid files, and how to find a
# running daemon through its pid file (never by name, so nothing else on the machine is touched).
# shellcheck shell=bash

RUNDIR=/run/slurm

# Pid files of the daemons (stop.sh uses the same table).
pidfile_of() {
    case "$1" in
        munged)    echo /run/munge/munged.pid ;;
        mariadbd)  echo /run/mysqld/mysqld.pid ;;
        slurmdbd)  echo "$RUNDIR/slurmdbd.pid" ;;
        slurmctld) echo "$RUNDIR/slurmctld.pid" ;;
        slurmd)    echo "$RUNDIR/slurmd.pid" ;;
    esac
}

# pid_of NAME: pid from the daemon's pid file, if that process is alive and
# really is NAME (a stale pid file after a container restart is ignored).
pid_of() {
    local f pid
    f="$(pidfile_of "$1")"
    [ -r "$f" ] || return 1
    pid="$(tr -dc 0-9 <"$f")"
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
    echo "$pid"
}

# stop_daemon NAME: SIGTERM the daemon (found by its pid file), wait up to 30 s until it has
# gone, SIGKILL as a last resort; nothing to do when it is not running.
stop_daemon() {
    local name="$1" pid
    pid="$(pid_of "$name")" || return 0
    echo "$(basename "$0"): stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    echo "$(basename "$0"): warning: $name (pid $pid) ignored SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
}
