#!/usr/bin/env bash
# A single-node Slurm cluster on 127.0.0.1 for the tests and for trying suandian's Slurm
# executor by hand: munged, slurmctld and slurmd from Debian's packages (slurm-wlm, munge),
# no systemd. One node declares CPUS CPUs (the executor maps accelerators to CPUs on a machine
# without GPUs); three partitions stand for three sites, each limited to its share of the node
# (MaxCPUsPerNode), so that a site's capacity is the cluster's too.
#
#   scripts/slurm-dev.sh start [DIR] [CPUS]    write the configuration (once) and start the
#                                              daemons; prints the export line for the tests
#   scripts/slurm-dev.sh stop  [DIR]
#
# eval "$(scripts/slurm-dev.sh start)" && sinfo
#
# Runs as root (the daemons and the jobs run as root here: a throwaway development cluster).
set -euo pipefail
cmd=${1:-start}
dir=${2:-${TMPDIR:-/tmp}/suandian-slurm}
cpus=${3:-48}
conf="$dir/slurm.conf"

need() {
    command -v "$1" >/dev/null || {
        echo "slurm-dev: $1 not found; install Debian's packages: apt-get install slurm-wlm munge" >&2
        exit 1
    }
}

case "$cmd" in
start)
    need slurmctld
    need slurmd
    need munged
    [ "$(id -u)" = 0 ] || { echo "slurm-dev: run as root" >&2; exit 1; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" /run/munge
    chown munge: /run/munge
    if ! pgrep -x munged >/dev/null; then
        [ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create
        runuser -u munge -- /usr/sbin/munged
    fi
    per_site=$((cpus / 3))
    cat >"$conf" <<CONF
ClusterName=suandian-dev
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MessageTimeout=10
InactiveLimit=0
KillWait=5
MinJobAge=3600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:$cpus RealMemory=1000 State=UNKNOWN
PartitionName=east Nodes=localhost MaxCPUsPerNode=$per_site Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=middle Nodes=localhost MaxCPUsPerNode=$per_site MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=west Nodes=localhost MaxCPUsPerNode=$per_site MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
    # As many GPUs as CPUs, for `--slurm-gpus`: GRES counted by Slurm, standing for devices
    # this machine may not have (each one /dev/null; no job touches them).
    mkdir -p "$dir/gpu"
    for k in $(seq 0 $((cpus - 1))); do ln -sfn /dev/null "$dir/gpu/gpu$k"; done
    echo "NodeName=localhost Name=gpu File=$dir/gpu/gpu[0-$((cpus - 1))]" >"$dir/gres.conf"
    export SLURM_CONF="$conf"
    if ! scontrol ping 2>/dev/null | grep -q UP; then
        slurmctld -i -f "$conf"
    fi
    pgrep -f "slurmd -f $conf" >/dev/null || slurmd -f "$conf"
    for _ in $(seq 1 60); do
        # A node drained by an earlier configuration of this cluster comes back.
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(drained|draining|inval)'; then
            scontrol update NodeName=localhost State=RESUME 2>/dev/null || true
        fi
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "export SLURM_CONF=$conf"
            exit 0
        fi
        sleep 0.5
    done
    echo "slurm-dev: the node did not come up; see $dir/log" >&2
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    exit 1
    ;;
stop)
    export SLURM_CONF="$conf"
    [ -f "$dir/slurmd.pid" ] && kill "$(cat "$dir/slurmd.pid")" 2>/dev/null || true
    scontrol shutdown 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start|stop [DIR] [CPUS]" >&2
    exit 2
    ;;
esac
