#!/usr/bin/env bash
# hosts-down.sh - undo hosts-up.sh: stop a SLURM cluster running on the fake hosts (slurm-down.sh),
# stop the recorded sshds (only those PIDs, after checking their command line), delete the
# namespaces, veths and bridge, the tagged /etc/hosts lines and the ssh drop-in, and the state dir.
# Processes that tests left inside the fake hosts are listed, not killed. Safe when nothing is up.
# Env: TSMPI_CLUSTER_DIR=/tmp/tsmpi-cluster (as for hosts-up.sh).
set -uo pipefail
T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
D=${TSMPI_CLUSTER_DIR:-/tmp/tsmpi-cluster}/hosts
TAG="# tsmpi-cluster"; DROPIN=/etc/ssh/ssh_config.d/tsmpi-cluster.conf; BR=tsmpibr0
[ "$(id -u)" = 0 ] || { echo "hosts-down: must run as root" >&2; exit 1; }

# SLURM daemons live inside the fake hosts: they go first.
"$HERE/slurm-down.sh"

# sshd listeners, by recorded PID, only while the PID still runs our sshd (PIDs get reused).
is_our_sshd() { grep -qs -- "$D/sshd_" "/proc/$1/cmdline"; }
pids=()
for f in "$D"/sshd_*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  if is_our_sshd "$p"; then kill "$p" 2>/dev/null && pids+=("$p"); fi
done
for p in "${pids[@]}"; do
  for _ in $(seq 1 30); do is_our_sshd "$p" || break; sleep 0.1; done
  is_our_sshd "$p" && kill -9 "$p" 2>/dev/null
done

# Namespaces: report what tests left running in them (the namespace lives on until those exit).
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^tsmpi-node[0-9]+$/ {print $1}'); do
  left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] || echo "hosts-down: WARNING: processes still inside $ns (not started by the rig, not killed): $left" >&2
  ip netns del "$ns"
done
for l in $(ip -o link show type veth 2>/dev/null | awk -F': ' '$2 ~ /^tsmv[0-9]+@/ {sub(/@.*/, "", $2); print $2}'); do
  ip link del "$l" 2>/dev/null
done
ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR"

# Rewrite /etc/hosts in place (keeps its inode: works when it is a bind mount, as in Docker).
if grep -qF -- "$TAG" /etc/hosts; then
  tmp=$(mktemp)
  grep -vF -- "$TAG" /etc/hosts > "$tmp"
  cat "$tmp" > /etc/hosts
  rm -f "$tmp"
fi
grep -qsF -- "$TAG" "$DROPIN" && rm -f "$DROPIN"
rm -rf "$D"
rmdir "$(dirname "$D")" 2>/dev/null
ms=$((($(date +%s%N) - T0) / 1000000))
echo "hosts-down: done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s"
exit 0
