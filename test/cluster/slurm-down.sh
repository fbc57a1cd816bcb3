#!/usr/bin/env bash
# slurm-down.sh - undo slurm-up.sh: cancel the cluster's jobs, stop its daemons by recorded PID
# (each checked against /proc/PID/cmdline first), remove the /etc/slurm/slurm.conf link if it is
# ours, and the state dir (KEEP=1 keeps it, e.g. for the logs). Safe when nothing is up.
# Env: TSMPI_CLUSTER_DIR=/tmp/tsmpi-cluster  KEEP=0|1
set -uo pipefail
T0=$(date +%s%N)
D=${TSMPI_CLUSTER_DIR:-/tmp/tsmpi-cluster}/slurm
export SLURM_CONF=$D/slurm.conf
[ "$(id -u)" = 0 ] || { echo "slurm-down: must run as root" >&2; exit 1; }
running() { grep -qs -- "$D" "/proc/$1/cmdline"; }   # does PID $1 still run one of our daemons?

if [ -f "$D/slurmctld.bgpid" ] && running "$(cat "$D/slurmctld.bgpid")"; then
  # Cancel jobs while slurmd still runs, so it can tear their steps down.
  ids=$(timeout 5 squeue -h -o %A 2>/dev/null)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    timeout 5 scancel $ids
    for _ in $(seq 1 100); do [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi

stopped=()
for f in "$D"/slurmd-*.bgpid "$D/slurmctld.bgpid" "$D/munged.bgpid"; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  if running "$p"; then kill "$p" 2>/dev/null && stopped+=("$p"); fi
done
for p in "${stopped[@]}"; do   # up to 5 s each, then SIGKILL
  for _ in $(seq 1 50); do running "$p" || break; sleep 0.1; done
  running "$p" && kill -9 "$p" 2>/dev/null
done

[ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$D/slurm.conf" ] && rm -f /etc/slurm/slurm.conf
[ "${KEEP:-0}" = 1 ] || rm -rf "$D"
ms=$((($(date +%s%N) - T0) / 1000000))
echo "slurm-down: done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s (${#stopped[@]} daemon(s) stopped)"
exit 0
