#!/usr/bin/env bash
# setup.sh - make sure the packages the test cluster needs are installed (Debian/Ubuntu, root).
#   ./setup.sh          install what is missing: apt-get update + apt-get install -y (only then)
#   ./setup.sh --check  install nothing; exit 0 when all are present, 3 when some are missing
# Needs root (except --check). Packages: slurm-wlm munge openssh-server openssh-client iproute2 (+ util-linux for nsenter/unshare,
# present on every Debian). Exit codes: 0 ok, 1 not root / no apt-get / apt failed, 3 missing (--check).
set -uo pipefail
PKGS=(slurm-wlm munge openssh-server openssh-client iproute2)
CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) echo "setup: unknown argument '$1' (use --check or nothing)" >&2; exit 1 ;;
esac

[ "$CHECK" = 1 ] || [ "$(id -u)" = 0 ] || { echo "setup: must run as root (the test cluster needs root)" >&2; exit 1; }
missing=()
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
# nsenter/unshare come from util-linux (essential on Debian); say so rather than install it.
for c in nsenter unshare; do
  command -v "$c" >/dev/null || { echo "setup: '$c' not found (package util-linux)" >&2; exit 1; }
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present (${PKGS[*]})"
  exit 0
fi
if [ "$CHECK" = 1 ]; then
  echo "setup: missing packages: ${missing[*]}"
  exit 3
fi
command -v apt-get >/dev/null || { echo "setup: apt-get not found (needs Debian/Ubuntu); install by hand: ${missing[*]}" >&2; exit 1; }
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || { echo "setup: apt-get update failed (network or sources?)" >&2; exit 1; }
apt-get install -y -q "${missing[@]}" \
  || { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 1; }
echo "setup: installed ${missing[*]}"
