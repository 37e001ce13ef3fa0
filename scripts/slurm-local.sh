#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests and for trying `silab sweep --executor slurm`
# without a cluster. Needs Debian's slurmctld, slurmd, slurm-client and munge (`install` gets them).
#
#   scripts/slurm-local.sh install        # apt-get the packages (root)
#   scripts/slurm-local.sh start STATE    # write STATE/slurm.conf, start munged, slurmctld, slurmd
#   export SLURM_CONF=STATE/slurm.conf    # then sbatch/squeue/scancel talk to it
#   scripts/slurm-local.sh stop STATE
#
# The node offers this machine's cores and memory in one partition `local`. No cgroups, no
# accounting database: processes are tracked through /proc (proctrack/linuxproc).
set -euo pipefail
cmd="${1:-}"
state="${2:-}"

need_state() {
    [ -n "$state" ] || { echo "usage: $0 start|stop|status STATE_DIR" >&2; exit 2; }
    mkdir -p "$state"
    state="$(cd "$state" && pwd)"
}

case "$cmd" in
install)
    if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null; then
        exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    ;;
start)
    need_state
    for b in munged slurmctld slurmd sbatch; do
        command -v "$b" >/dev/null || { echo "$0: $b not found; run '$0 install' first" >&2; exit 3; }
    done
    # munge: one daemon per machine, shared by every cluster started here.
    if ! munge -n </dev/null >/dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || create-munge-key -f; }
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        runuser -u munge -- /usr/sbin/munged
        for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    cpus="$(nproc)"
    mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))"
    port="${SILAB_SLURM_PORT:-6817}"
    mkdir -p "$state/spool" "$state/ctld" "$state/log"
    cat >"$state/slurm.conf" <<CONF
ClusterName=silab-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=600
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$state/slurm.conf"
    slurmctld -f "$SLURM_CONF" -i
    slurmd -f "$SLURM_CONF" -N localhost
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
            echo "slurm-local: cluster up; export SLURM_CONF=$SLURM_CONF"
            exit 0
        fi
        sleep 0.2
    done
    echo "$0: the node did not come up; logs in $state/log" >&2
    sinfo >&2 || true
    tail -n 20 "$state/log/"*.log >&2 || true
    exit 1
    ;;
stop)
    need_state
    export SLURM_CONF="$state/slurm.conf"
    scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
    for f in slurmd slurmctld; do
        if [ -s "$state/$f.pid" ]; then kill "$(cat "$state/$f.pid")" 2>/dev/null || true; fi
    done
    for _ in $(seq 50); do
        alive=0
        for f in slurmd slurmctld; do
            [ -s "$state/$f.pid" ] && kill -0 "$(cat "$state/$f.pid")" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    ;;
status)
    need_state
    SLURM_CONF="$state/slurm.conf" sinfo
    ;;
*)
    echo "usage: $0 install | start STATE_DIR | stop STATE_DIR | status STATE_DIR" >&2
    exit 2
    ;;
esac
