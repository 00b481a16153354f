#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the tests (tests/all/slurm_cluster.rs) and for
# trying the workflow's Slurm profile by hand:
#
#   export RSDM_SLURM_DIR=$(mktemp -d)       # a private folder for this cluster
#   scripts/slurm_test_cluster.sh start     # prints: export SLURM_CONF=...
#   export SLURM_CONF=$RSDM_SLURM_DIR/slurm.conf
#   sbatch --wrap 'hostname'; squeue; sinfo
#   scripts/slurm_test_cluster.sh stop
#
# Debian's slurm-wlm and munge (installed with apt-get when missing, and only when
# RSDM_TEST_SYSTEM=1 allows changes to the system), daemons started by hand because there is
# no systemd: munged, slurmctld and slurmd, all on this host, with their configuration, state
# and logs in $RSDM_SLURM_DIR (default: a folder of this user's under $TMPDIR). The
# configuration is also linked as /etc/slurm/slurm.conf (removed again by stop), because
# Snakemake's executor deletes every SLURM_* variable (SLURM_CONF too) inside a job before it
# calls srun there, so the job step finds the cluster only in the standard place; a machine
# whose /etc/slurm/slurm.conf belongs to a real cluster is refused. No accounting database: jobs are
# followed with squeue, and MinJobAge=600 keeps finished jobs visible to it for ten minutes
# (Snakemake's executor must be told: --slurm-status-command squeue). Needs root (the daemons
# run as root; proctrack/linuxproc and task/none need no cgroups).
#
# `stop` cancels the jobs of this cluster only (its own controller, its own state folder: every
# job it holds was submitted to it), and stops the daemons it started by their PID files;
# nothing is killed by name or pattern. munged is started only when none runs, and then
# stopped again by `stop`.
#
# Exit status: 0 when the cluster answers, 3 when it cannot start here (not root, no package,
# a daemon that will not come up), with the reason on stderr.
set -uo pipefail

STATE=${RSDM_SLURM_DIR:-${TMPDIR:-/tmp}/rsdm-slurm-$(id -u)}
CONF=$STATE/slurm.conf

cannot() {
  echo "slurm_test_cluster: cannot start a Slurm cluster here: $*" >&2
  exit 3
}

write_config() {
  local host cpus memory
  host=$(hostname -s)
  cpus=$(nproc)
  # Leave a tenth of the memory to the system.
  memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  mkdir -p "$STATE/spool" "$STATE/state" "$STATE/log"
  cat >"$CONF" <<EOF
# Written by scripts/slurm_test_cluster.sh: one node, this host.
ClusterName=rsdm-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay visible to squeue (and so to Snakemake's status checks) for 10 minutes.
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # The clients (sbatch, squeue, scancel) look for cgroup.conf only with cgroup plugins.
}

start_munge() {
  if pgrep -x munged >/dev/null; then
    return 0
  fi
  [ "${RSDM_TEST_SYSTEM:-0}" = 1 ] || cannot "munged is not running, and starting it (a key in /etc/munge) changes the system: set RSDM_TEST_SYSTEM=1 to allow it"
  if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key || cannot "mungekey failed"
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null || cannot "no munge key"
    fi
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge 2>/dev/null
  chmod 400 /etc/munge/munge.key
  chmod 755 /run/munge
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged || cannot "munged did not start"
  else
    /usr/sbin/munged --force || cannot "munged did not start"
  fi
  # Ours to stop again: the PID of the munged this script started.
  for _ in $(seq 1 20); do
    pgrep -x munged >"$STATE/munged.pid" && return 0
    sleep 0.1
  done
}

start() {
  [ "$(id -u)" = 0 ] || cannot "the daemons need root (this is uid $(id -u))"
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || cannot "slurm-wlm and munge are not installed and there is no apt-get"
    [ "${RSDM_TEST_SYSTEM:-0}" = 1 ] ||
      cannot "slurm-wlm and munge are not installed; set RSDM_TEST_SYSTEM=1 to let this install them with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null 2>&1; } ||
      cannot "apt-get could not install slurm-wlm and munge"
  fi
  if [ -f "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; then
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  if [ -e /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" != "$CONF" ]; then
    cannot "/etc/slurm/slurm.conf exists and is not this test cluster's (a real cluster's configuration is left alone)"
  fi
  [ "${RSDM_TEST_SYSTEM:-0}" = 1 ] ||
    cannot "the cluster links its configuration as /etc/slurm/slurm.conf while it runs: set RSDM_TEST_SYSTEM=1 to allow it"
  write_config
  mkdir -p /etc/slurm
  ln -sfn "$CONF" /etc/slurm/slurm.conf
  start_munge
  export SLURM_CONF=$CONF
  # -c: a clean start, with no jobs from an earlier cluster in this folder.
  /usr/sbin/slurmctld -c -f "$CONF" || cannot "slurmctld did not start (see $STATE/log/slurmctld.log)"
  /usr/sbin/slurmd -f "$CONF" || cannot "slurmd did not start (see $STATE/log/slurmd.log)"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 0.5
  done
  cannot "the node did not come up (sinfo: $(sinfo -h 2>&1 | head -1); see $STATE/log/)"
}

stop() {
  export SLURM_CONF=$CONF
  if [ -f "$CONF" ] && [ -f "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; then
    # The jobs of this cluster, by id: its controller is ours, started on its own state folder.
    jobs=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      # shellcheck disable=SC2086
      scancel --full $jobs 2>/dev/null
    fi
  fi
  pids=()
  for daemon in slurmd slurmctld munged; do
    if [ -f "$STATE/$daemon.pid" ]; then
      pid=$(cat "$STATE/$daemon.pid")
      kill "$pid" 2>/dev/null && pids+=("$pid")
      rm -f "$STATE/$daemon.pid"
    fi
  done
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ]; then
    rm -f /etc/slurm/slurm.conf
  fi
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    export SLURM_CONF=$CONF
    sinfo && squeue
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
