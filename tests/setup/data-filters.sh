#!/usr/bin/env bash
# Test prerequisites of the data-filters tests: a real single-node Slurm cluster on this machine (Debian's slurmctld,
# slurmd, munge, slurm-client) for the Slurm executor's end-to-end test. Idempotent and quick when already set up:
# packages are installed only if missing, the config is rewritten only if it changed, running daemons are reused.
# Must run as root. Leaves the cluster running (the test skips itself, saying why, if it is not up).
set -euo pipefail
source "$(dirname "$0")/lib/debian-packages.sh"
install_missing slurmctld slurmd munge slurm-client

host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p /etc/slurm /var/lib/slurm/slurmd /var/lib/slurm/slurmctld /var/log/slurm
conf=$(cat <<CONF
# Written by tests/setup/data-filters.sh: a one-node cluster for LmForge's Slurm executor test.
ClusterName=lmforge
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)
changed=0
if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]; then
  printf '%s\n' "$conf" > /etc/slurm/slurm.conf
  changed=1
fi

# munge: a key, then the daemon (as the munge user, as its service would).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ $changed = 1 ] && running /run/slurmctld.pid; then scontrol reconfigure || true; fi
running /run/slurmctld.pid || slurmctld
running /run/slurmd.pid || slurmd

for _ in $(seq 1 30); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
  case "$state" in
    idle|mixed|allocated) echo "slurm: node $host $state"; exit 0 ;;
    down*|drain*|unknown*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
echo "slurm: node $host did not become idle (state: ${state:-none}); see /var/log/slurm/" >&2
exit 1
