#!/usr/bin/env bash
# Bring up a single-node Slurm cluster WITH accounting on this machine, without
# systemd (PID 1 in the CI container is not an init system, so every daemon is
# started directly, in dependency order):
#
#   munged -> mariadbd -> slurmdbd -> (sacctmgr: cluster) -> slurmctld -> slurmd
#          -> (sacctmgr: account + users) -> wait: node idle, srun works, sacct works
#
# Idempotent: a daemon that is already running is left alone, unless its config
# file changed, in which case it is restarted.  Exits non-zero (after printing
# the tail of the relevant daemon logs) if the cluster is not usable within
# SLURM_CI_TIMEOUT seconds.
#
# Knobs (environment variables, all optional):
#   SLURM_CI_CLUSTER    cluster name                  (default: ci)
#   SLURM_CI_PARTITION  the single partition          (default: debug)
#   SLURM_CI_ACCOUNT    accounting account for root   (default: ci)
#   SLURM_CI_USERS      extra users to register        (default: none; root is always added)
#   SLURM_CI_TIMEOUT    seconds to wait for readiness (default: 120)
#   SLURM_CI_DB_PASS    slurmdbd's MariaDB password   (default: slurmci; local socket only)
set -euo pipefail

CLUSTER="${SLURM_CI_CLUSTER:-ci}"
PARTITION="${SLURM_CI_PARTITION:-debug}"
ACCOUNT="${SLURM_CI_ACCOUNT:-ci}"
EXTRA_USERS="${SLURM_CI_USERS:-}"
TIMEOUT="${SLURM_CI_TIMEOUT:-120}"
DB_PASS="${SLURM_CI_DB_PASS:-slurmci}"

ETC=/etc/slurm
LOGDIR=/var/log/slurm
RUNDIR=/run/slurm
STATEDIR=/var/lib/slurm/slurmctld
SPOOLDIR=/var/lib/slurm/slurmd
MYSQL_SOCK=/run/mysqld/mysqld.sock
MYSQL_LOG=/var/log/mysql/error.log

T0=$(date +%s)
DEADLINE=$((T0 + TIMEOUT))

log() { echo "start.sh [$(( $(date +%s) - T0 ))s]: $*"; }

show_logs() {
    local f
    for f in "$@"; do
        echo "----- last 30 lines of $f -----" >&2
        if [ -r "$f" ]; then tail -n 30 "$f" >&2; else echo "(missing)" >&2; fi
    done
}

die() {
    echo "start.sh: ERROR: $1" >&2
    shift
    show_logs "$@"
    exit 1
}

# wait_for DESCRIPTION CMD...: retry CMD every second until it succeeds or the
# global deadline passes (returns 1 then).
wait_for() {
    local what="$1"; shift
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$DEADLINE" ]; then
            echo "start.sh: timed out after ${TIMEOUT}s waiting for: $what" >&2
            return 1
        fi
        sleep 1
    done
}

# RUNDIR, pidfile_of, pid_of, stop_daemon (shared with stop.sh)
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# running NAME: is the daemon alive?
running() { pid_of "$1" >/dev/null; }

# wait_daemon NAME DESCRIPTION CMD...: like wait_for, but gives up early (after
# a 5 s grace period) if the daemon NAME has died, e.g. on a fatal config error.
wait_daemon() {
    local name="$1" what="$2" t_start
    shift 2
    t_start=$(date +%s)
    while ! "$@" >/dev/null 2>&1; do
        if [ $(( $(date +%s) - t_start )) -ge 5 ] && ! running "$name" \
            && ! pgrep -x "$name" >/dev/null 2>&1; then
            echo "start.sh: $name is not running (it exited; see its log below)" >&2
            return 1
        fi
        if [ "$(date +%s)" -ge "$DEADLINE" ]; then
            echo "start.sh: timed out after ${TIMEOUT}s waiting for: $what" >&2
            return 1
        fi
        sleep 1
    done
}

# install_file SRC DEST MODE OWNER: move SRC over DEST if the content differs.
# Returns 0 if DEST changed, 1 if it was already identical.
install_file() {
    local src="$1" dest="$2" mode="$3" owner="$4"
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        rm -f "$src"
        chmod "$mode" "$dest"; chown "$owner" "$dest"
        return 1
    fi
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest"
    rm -f "$src"
    return 0
}

for cmd in munged mariadbd slurmdbd slurmctld slurmd sacctmgr sinfo srun sacct; do
    command -v "$cmd" >/dev/null || die "$cmd not found: run .ci/slurm/install.sh first"
done
id slurm >/dev/null 2>&1 || die "user 'slurm' missing: run .ci/slurm/install.sh first"

HOST="$(hostname -s)"
# Node address: whatever the short hostname resolves to (127.0.0.1 in the CI
# container); fall back to loopback if it does not resolve.
NODEADDR="$(getent hosts "$HOST" | awk 'NR==1 {print $1}')"
NODEADDR="${NODEADDR:-127.0.0.1}"

# ---------------------------------------------------------------- directories
install -d -m 755 -o slurm -g slurm "$LOGDIR" "$RUNDIR" "$STATEDIR"
install -d -m 755 -o root  -g root  "$SPOOLDIR" "$ETC"
install -d -m 700 -o munge -g munge /etc/munge /var/log/munge
install -d -m 711 -o munge -g munge /var/lib/munge
install -d -m 755 -o munge -g munge /run/munge
install -d -m 755 -o mysql -g mysql /run/mysqld /var/log/mysql

# ---------------------------------------------------------------- munge
# munged refuses to start unless the key is owned by its user and mode 0600.
if [ ! -s /etc/munge/munge.key ]; then
    log "creating munge key"
    mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 600 /etc/munge/munge.key

if ! running munged; then
    log "starting munged"
    # Runs as the unprivileged munge user (as the Debian systemd unit does);
    # socket /run/munge/munge.socket.2, log /var/log/munge/munged.log.
    runuser -u munge -- /usr/sbin/munged
fi
wait_daemon munged "munge credential round trip" sh -c 'munge -n | unmunge' \
    || die "munged is not working" /var/log/munge/munged.log

# ---------------------------------------------------------------- MariaDB
if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising MariaDB data directory"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
if ! running mariadbd; then
    log "starting mariadbd"
    # --skip-networking:          Unix socket only (no TCP port to clash with
    #                             anything else on the machine); slurmdbd's
    #                             StorageHost=localhost uses the socket.
    # --innodb-log-file-size / --innodb-lock-wait-timeout: the values the
    #                             Slurm accounting docs recommend.
    # --innodb-buffer-pool-size:  256M keeps memory modest on a shared 24 GiB
    #                             box; slurmdbd logs a harmless "Database
    #                             settings not recommended values:
    #                             innodb_buffer_pool_size" (it wants more).
    setsid /usr/sbin/mariadbd --user=mysql \
        --datadir=/var/lib/mysql \
        --socket="$MYSQL_SOCK" \
        --pid-file=/run/mysqld/mysqld.pid \
        --log-error="$MYSQL_LOG" \
        --skip-networking \
        --innodb-buffer-pool-size=256M \
        --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 \
        </dev/null >/dev/null 2>&1 &
fi
wait_daemon mariadbd "MariaDB to accept connections" mariadb-admin --socket="$MYSQL_SOCK" ping \
    || die "MariaDB did not come up" "$MYSQL_LOG"

log "creating accounting database and user (if absent)"
# root authenticates through the socket (unix_socket plugin, Debian default).
mariadb --socket="$MYSQL_SOCK" <<SQL || die "could not create slurm_acct_db / slurm DB user" "$MYSQL_LOG"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# ---------------------------------------------------------------- slurmdbd.conf
tmp="$(mktemp)"
cat >"$tmp" <<EOF
# Generated by .ci/slurm/start.sh -- do not edit (it is rewritten on each start).
# Authentication between slurmdbd and slurmctld / clients (sacct, sacctmgr).
AuthType=auth/munge
# Where slurmdbd listens: this host only, default port.
DbdHost=localhost
DbdPort=6819
# slurmdbd drops root privileges to this user after start.
SlurmUser=slurm
# Logging and pid file (no systemd, so they are explicit).
DebugLevel=info
LogFile=$LOGDIR/slurmdbd.log
PidFile=$RUNDIR/slurmdbd.pid
# Storage backend: local MariaDB, through its Unix socket (host "localhost").
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
# slurmdbd refuses a slurmdbd.conf that is readable by others: 0600, owner slurm.
dbd_changed=0
install_file "$tmp" "$ETC/slurmdbd.conf" 600 slurm:slurm && dbd_changed=1

# ---------------------------------------------------------------- slurm.conf
# Hardware as slurmd itself detects it.  RealMemory is set ~5% below what
# slurmd reports: a node whose configured memory exceeds the detected memory
# is drained ("Low RealMemory"), and a margin also leaves room for the OS.
HW="$(slurmd -C | head -n 1)"
hw() { echo "$HW" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
CPUS="$(hw CPUs)"; BOARDS="$(hw Boards)"; SOCKETS="$(hw SocketsPerBoard)"
CORES="$(hw CoresPerSocket)"; THREADS="$(hw ThreadsPerCore)"; MEM="$(hw RealMemory)"
for v in "$CPUS" "$BOARDS" "$SOCKETS" "$CORES" "$THREADS" "$MEM"; do
    [ -n "$v" ] || die "could not parse 'slurmd -C' output: $HW"
done
REALMEM=$(( MEM * 95 / 100 ))

tmp="$(mktemp)"
cat >"$tmp" <<EOF
# Generated by .ci/slurm/start.sh -- do not edit (it is rewritten on each start).
# Single-node CI cluster: controller and compute node are both '$HOST'.

# -- identity
# Cluster name; must match the cluster registered with sacctmgr (and is
# remembered in StateSaveLocation, so it must not change between restarts).
ClusterName=$CLUSTER
# The controller host: name(address).
SlurmctldHost=$HOST($NODEADDR)

# -- users, auth, ports
# slurmctld drops to this user; slurmd stays root (it must spawn jobs as users).
SlurmUser=slurm
SlurmdUser=root
# Authentication and credential signing via munge.
AuthType=auth/munge
CryptoType=crypto/munge
SlurmctldPort=6817
SlurmdPort=6818

# -- state, spool, pid, log locations (created by start.sh; no systemd tmpfiles)
StateSaveLocation=$STATEDIR
SlurmdSpoolDir=$SPOOLDIR
SlurmctldPidFile=$RUNDIR/slurmctld.pid
SlurmdPidFile=$RUNDIR/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# -- process tracking / task binding: no cgroups in the container, so the
# plain /proc based tracker and no task affinity/containment plugin.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Per-job usage sampling from /proc (fills MaxRSS etc. in sacct); no cgroup needed.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# No MPI plugin by default.
MpiDefault=none
# No mail server in CI; the default (/usr/bin/mail) is absent and slurmctld
# logs an error about it.
MailProg=/bin/true

# -- scheduling: backfill scheduler; cons_tres allocates individual cores and
# memory, so several small jobs share the node at once.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Memory given to a job that does not ask for any (--mem): without it such a
# job would be allocated the whole node's memory and block all other jobs.
DefMemPerCPU=1024
# A node that was DOWN (e.g. after stop.sh / a container restart) comes back
# to service by itself once slurmd registers with a valid config.
ReturnToService=2
# Seconds a finished job stays in slurmctld's memory (squeue/scontrol); the
# Slurm default.  The Snakemake executor polls sacct (slurmdbd) by default,
# so this only matters with --slurm-status-command=squeue (needs >= 120).
MinJobAge=300
# Seconds slurmctld waits for a silent slurmd before marking the node DOWN.
SlurmdTimeout=300
# Grace period between SIGTERM and SIGKILL when a job is cancelled/timed out.
KillWait=10

# -- accounting through slurmdbd (sacct, which Snakemake's slurm executor polls)
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
# Reject jobs whose user/account has no association (so a wrong
# slurm_account fails loudly instead of running unaccounted).
AccountingStorageEnforce=associations
# Store each job's --comment in the accounting DB: Snakemake's slurm executor names the
# rule there (rule_<name>_wildcards_<...>), so sacct -o Comment shows which rule a job ran.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none

# -- the node and its single (default) partition; hardware from 'slurmd -C'
NodeName=$HOST NodeAddr=$NODEADDR CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$REALMEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
conf_changed=0
install_file "$tmp" "$ETC/slurm.conf" 644 root:root && conf_changed=1

# cgroup.conf: not needed with proctrack/linuxproc + task/none (no cgroup
# plugin is loaded), so none is written.

# ---------------------------------------------------------------- slurmdbd
if [ "$dbd_changed" = 1 ] && running slurmdbd; then
    log "slurmdbd.conf changed: restarting slurmdbd"
    stop_daemon slurmdbd
fi
if ! running slurmdbd; then
    log "starting slurmdbd"
    /usr/sbin/slurmdbd || die "slurmdbd failed to start" "$LOGDIR/slurmdbd.log" "$MYSQL_LOG"
fi
wait_daemon slurmdbd "slurmdbd to answer sacctmgr" sacctmgr -n list cluster \
    || die "slurmdbd is not answering" "$LOGDIR/slurmdbd.log" "$MYSQL_LOG"

# The cluster must exist in the accounting DB before slurmctld registers.
if [ -z "$(sacctmgr -n -P list cluster "$CLUSTER" format=cluster)" ]; then
    log "registering cluster $CLUSTER"
    sacctmgr -i add cluster "$CLUSTER" >/dev/null \
        || die "sacctmgr add cluster failed" "$LOGDIR/slurmdbd.log"
fi

# ---------------------------------------------------------------- slurmctld, slurmd
if [ "$conf_changed" = 1 ] && { running slurmctld || running slurmd; }; then
    log "slurm.conf changed: restarting slurmctld and slurmd"
    stop_daemon slurmd
    stop_daemon slurmctld
fi
if ! running slurmctld; then
    log "starting slurmctld"
    /usr/sbin/slurmctld || die "slurmctld failed to start" "$LOGDIR/slurmctld.log"
fi
wait_daemon slurmctld "slurmctld to answer" scontrol ping \
    || die "slurmctld is not answering" "$LOGDIR/slurmctld.log"
if ! running slurmd; then
    log "starting slurmd"
    /usr/sbin/slurmd || die "slurmd failed to start" "$LOGDIR/slurmd.log"
fi

# ---------------------------------------------------------------- associations
if [ -z "$(sacctmgr -n -P list account "$ACCOUNT" format=account)" ]; then
    log "adding account $ACCOUNT"
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="CI" Organization="ci" >/dev/null \
        || die "sacctmgr add account failed" "$LOGDIR/slurmdbd.log"
fi
for u in root $EXTRA_USERS; do
    if [ -z "$(sacctmgr -n -P list assoc cluster="$CLUSTER" account="$ACCOUNT" user="$u" format=user)" ]; then
        log "adding user $u to account $ACCOUNT"
        sacctmgr -i add user "$u" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER" >/dev/null \
            || die "sacctmgr add user $u failed" "$LOGDIR/slurmdbd.log"
    fi
done

# ---------------------------------------------------------------- readiness
node_state() { sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n 1; }
node_idle() {
    local s
    s="$(node_state)"
    case "$s" in
        idle|mixed|allocated|completing) return 0 ;;
        # left DOWN/DRAINED by an earlier unclean stop: put it back in service
        down*|drain*|fail*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    return 1
}
log "waiting for node $HOST to be idle"
wait_daemon slurmd "node $HOST to become idle" node_idle \
    || die "node $HOST is not idle (sinfo: $(sinfo -N -l 2>&1 | tail -n +2))" \
        "$LOGDIR/slurmd.log" "$LOGDIR/slurmctld.log"

log "test job: srun hostname"
remaining=$(( DEADLINE - $(date +%s) )); [ "$remaining" -gt 5 ] || remaining=5
# Prints "<jobid> <hostname>", so the sacct check below looks at this very job.
# shellcheck disable=SC2016  # expanded by the job's shell, not here
out="$(timeout "$remaining" srun -A "$ACCOUNT" -p "$PARTITION" -N1 -n1 --mem=100 -t 1 \
        -J ci-slurm-check \
        sh -c 'echo "$SLURM_JOB_ID $(hostname)"' 2>&1)" \
    || die "srun hostname failed: $out" "$LOGDIR/slurmd.log" "$LOGDIR/slurmctld.log"
jobid="$(echo "$out" | awk 'NF == 2 && $1 ~ /^[0-9]+$/ {print $1}' | tail -n 1)"
[ -n "$jobid" ] || die "unexpected srun output: $out" "$LOGDIR/slurmd.log"
log "srun -> job $jobid ran on $(echo "$out" | awk -v j="$jobid" '$1 == j {print $2}')"

# The job record reaches slurmdbd asynchronously: wait until sacct shows it
# (the Snakemake executor polls exactly this: sacct -X --parsable2 ...).
sacct_ok() { sacct -n -X -P -j "$jobid" -o State | grep -qx COMPLETED; }
wait_for "sacct to report job $jobid COMPLETED" sacct_ok \
    || die "sacct does not show job $jobid COMPLETED (sacct: $(sacct -X -j "$jobid" 2>&1))" \
        "$LOGDIR/slurmdbd.log" "$LOGDIR/slurmctld.log"
log "sacct: job $jobid COMPLETED"

log "Slurm is ready: cluster=$CLUSTER partition=$PARTITION account=$ACCOUNT node=$HOST CPUs=$CPUS RealMemory=${REALMEM}MB"
sinfo
