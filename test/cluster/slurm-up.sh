#!/usr/bin/env bash
# slurm-up.sh - a throw-away SLURM cluster on the fake hosts of hosts-up.sh (run that first):
# slurmctld on this machine, one slurmd "nodeI" inside each fake host (its hostname and, in netns
# mode, its own address), and a private munged. Waits until every node is idle.
#
# Env: CPUS=8 (advertised per node; may exceed the real cores: SlurmdParameters=config_overrides)
#      AUTH=munge|none (munge by default; auth/none exists in Slurm 22.05 only)
#      LINK_ETC=1 (symlink /etc/slurm/slurm.conf to our conf when that path is free, so plain
#      srun/sbatch work everywhere, over ssh too, with no DNS SRV lookup; 0 = use SLURM_CONF)
#      SLURMCTLD_PORT=6817  SLURMD_BASE_PORT=6818 (node i listens on base+i-1)
#      TSMPI_CLUSTER_DIR=/tmp/tsmpi-cluster (conf, state, spool, logs in $TSMPI_CLUSTER_DIR/slurm)
# Idempotent: runs slurm-down.sh first. Undo with slurm-down.sh (hosts-down.sh also calls it).
set -euo pipefail
T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${TSMPI_CLUSTER_DIR:-/tmp/tsmpi-cluster}; D=$TOP/slurm; HD=$TOP/hosts
CPUS=${CPUS:-8}; CPORT=${SLURMCTLD_PORT:-6817}; BASE=${SLURMD_BASE_PORT:-6818}
die() { echo "slurm-up: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
for c in slurmctld slurmd sinfo nsenter; do command -v "$c" >/dev/null || die "$c not found (run setup.sh)"; done
read -r HMODE N SUBNET _ 2>/dev/null < "$HD/mode" || die "no fake hosts: run hosts-up.sh first"
"$HERE/slurm-down.sh" >/dev/null
mkdir -p "$D"/{state,log,spool,munge}
CONF=$D/slurm.conf
export SLURM_CONF=$CONF
# The controller address the nodes can reach: the bridge in netns mode, loopback otherwise.
[ "$HMODE" = netns ] && CADDR=$SUBNET.1 || CADDR=127.0.0.1

# Authentication: a private munged (own key and socket; /etc/munge and /run/munge untouched).
if [ "${AUTH:-munge}" = munge ]; then
  command -v munged >/dev/null || die "munged not found (run setup.sh, or AUTH=none)"
  chmod 711 "$D/munge"   # munged refuses a socket dir without o+x
  head -c 128 /dev/urandom > "$D/munge/key"; chmod 600 "$D/munge/key"
  setsid munged -F --key-file="$D/munge/key" --socket="$D/munge/munge.sock" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/seed" \
    </dev/null >/dev/null 2>&1 &
  echo $! > "$D/munged.bgpid"
  for _ in $(seq 1 50); do [ -S "$D/munge/munge.sock" ] && break; sleep 0.1; done
  [ -S "$D/munge/munge.sock" ] || die "munged did not start, see $D/log/munged.log"
  AUTHCONF=$'AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket='"$D/munge/munge.sock"
else
  AUTHCONF=$'AuthType=auth/none\nCredType=cred/none'
fi

cat > "$CONF" <<EOF
# written by test/cluster/slurm-up.sh
ClusterName=tsmpi
SlurmctldHost=$(hostname -s)($CADDR)
SlurmctldPort=$CPORT
SlurmUser=root
$AUTHCONF
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# sbatch jobs start after ~1 s instead of ~3 s
SchedulerParameters=batch_sched_delay=0
# nodes may advertise more CPUs than the machine has
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=5
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
EOF
i=0
while read -r h addr _; do
  i=$((i + 1))
  echo "NodeName=$h NodeAddr=$addr Port=$((BASE + i - 1)) CPUs=$CPUS State=UNKNOWN" >> "$CONF"
done < "$HD/nodes"
# OverSubscribe=FORCE: up to 4 jobs share a CPU, so test jobs run side by side
echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE" >> "$CONF"
# slurmd 22.05 always loads a cgroup plugin; on a cgroup-v2 host without systemd it must not ask dbus.
printf 'CgroupPlugin=autodetect\nIgnoreSystemd=yes\n' > "$D/cgroup.conf"

setsid slurmctld -D -i -f "$CONF" </dev/null >"$D/log/slurmctld.out" 2>&1 &
echo $! > "$D/slurmctld.bgpid"
while read -r h _ sshd_pid; do
  mkdir -p "$D/spool/$h"   # slurmd does not create it; without it srun hangs
  # Enter the fake host's UTS (+ net) namespace through its sshd, but not its mount namespace:
  # `ip netns exec` would remount /sys, and slurmd 22.05 dies without /sys/fs/cgroup.
  enter=()
  if [ "$(readlink "/proc/$sshd_pid/ns/uts")" != "$(readlink /proc/self/ns/uts)" ]; then enter+=(-u); fi
  [ "$HMODE" = netns ] && enter+=(-n)
  [ ${#enter[@]} -gt 0 ] && enter=(nsenter -t "$sshd_pid" "${enter[@]}")
  setsid "${enter[@]}" slurmd -D -N "$h" -f "$CONF" </dev/null >"$D/log/slurmd-$h.out" 2>&1 &
  echo $! > "$D/slurmd-$h.bgpid"
done < "$HD/nodes"

if [ "${LINK_ETC:-1}" = 1 ] && [ ! -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
  mkdir -p /etc/slurm && ln -s "$CONF" /etc/slurm/slurm.conf
fi

# Ready when all N nodes are idle (0.2-1.2 s; 30 s at most).
# A daemon that died (port taken, bad config) fails the wait at once, with its last log line.
idle=0
for _ in $(seq 1 300); do
  idle=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | grep -c '^idle$' || true)
  [ "$idle" = "$N" ] && break
  for f in "$D"/*.bgpid; do
    grep -qs -- "$D" "/proc/$(cat "$f")/cmdline" && continue
    name=$(basename "$f" .bgpid)
    die "$name exited at start: $(tail -n 1 "$D/log/$name.out" "$D/log/$name.log" 2>/dev/null | grep -v '^==>' | grep . | tail -n 1)"
  done
  sleep 0.1
done
[ "$idle" = "$N" ] || die "$idle of $N nodes idle after 30 s; see $D/log ($(timeout 5 sinfo -h -N -o '%N=%T' 2>&1 | tr '\n' ' '))"
ms=$((($(date +%s%N) - T0) / 1000000))
link=""; [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF" ] && link=" (linked from /etc/slurm/slurm.conf)"
echo "slurm-up: $N node(s) idle in $((ms / 1000)).$(printf %03d $((ms % 1000)))s, $(grep ^AuthType "$CONF"), hosts MODE=$HMODE; export SLURM_CONF=$CONF$link"
