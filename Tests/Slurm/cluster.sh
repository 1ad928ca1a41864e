#!/usr/bin/env bash
# A single-node Slurm cluster in a temporary directory, for the Slurm backend test: munged, slurmctld and
# slurmd as root from a generated slurm.conf (proctrack/linuxproc, task/none, no accounting).
#   cluster.sh start DIR   starts the daemons, waits until the node is idle, prints `export SLURM_CONF=…`
#   cluster.sh stop DIR    stops every daemon it started, by the PIDs it recorded
set -euo pipefail
command=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$command" = stop ]; then stop; exit 0; fi
[ "$command" = start ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"

host=$(hostname -s)
# The node line as slurmd measures this machine (CPUs, sockets, cores, memory), so the node never drains
# for a mismatch.
node=$(slurmd -C | head -n 1)
cat > "$dir/slurm.conf" <<CONF
ClusterName=olabtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -c
slurmd -c
for _ in $(seq 100); do
  state=$(sinfo -h -o %t 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
echo "the Slurm node did not become idle (state: ${state:-none}); logs in $dir" >&2
stop
exit 1
