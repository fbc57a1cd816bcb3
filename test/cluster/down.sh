#!/usr/bin/env bash
# down.sh - take the whole test rig down (the reverse of up.sh): SLURM, then the fake hosts.
# Safe when nothing is up. Env: TSMPI_CLUSTER_DIR, KEEP=1 (keep SLURM's logs).
set -uo pipefail
T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "cluster: down needs root" >&2; exit 1; }
"$HERE/slurm-down.sh" && "$HERE/hosts-down.sh"
rc=$?
ms=$((($(date +%s%N) - T0) / 1000000))
echo "cluster: down in $((ms / 1000)).$(printf %03d $((ms % 1000)))s"
exit $rc
