#!/usr/bin/env bash
# up.sh - the whole test rig in one command: packages (setup.sh), fake hosts node1..nodeN
# (hosts-up.sh), SLURM on those hosts (slurm-up.sh). Ends with exactly one line
#   cluster: ready (hosts: node1 node2, slurm: yes)
# or exits non-zero after "cluster: not ready: <reason>", having taken down what it started.
# Env: WITH_SLURM=1|0 (0: hosts only, "slurm: no"), KEEP_ON_FAIL=1 (leave a failed rig up to
# inspect it), and every knob of the scripts it runs (NODES, MODE, CPUS, TSMPI_CLUSTER_DIR, ...).
set -uo pipefail
T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
HD=${TSMPI_CLUSTER_DIR:-/tmp/tsmpi-cluster}/hosts

fail() {
  echo "cluster: not ready: $*" >&2
  [ "${KEEP_ON_FAIL:-0}" = 1 ] || "$HERE/down.sh" >/dev/null 2>&1
  exit 1
}
# step NAME SCRIPT: run it, show its output; on failure name the step and its last error line.
step() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1); rc=$?
  [ -z "$out" ] || printf '%s\n' "$out"
  [ $rc = 0 ] || fail "$name failed (exit $rc): $(printf '%s\n' "$out" | grep . | tail -n 1)"
}

[ "$(id -u)" = 0 ] || fail "must run as root (namespaces, sshd on port 22, /etc/hosts)"
step "package setup" "$HERE/setup.sh"
step "fake hosts" "$HERE/hosts-up.sh"
slurm=no
if [ "${WITH_SLURM:-1}" = 1 ]; then
  step "slurm" "$HERE/slurm-up.sh"
  slurm=yes
fi
hosts=$(awk '{print $1}' "$HD/nodes" | tr '\n' ' ')
ms=$((($(date +%s%N) - T0) / 1000000))
echo "cluster: up in $((ms / 1000)).$(printf %03d $((ms % 1000)))s"
echo "cluster: ready (hosts: ${hosts% }, slurm: $slurm)"
