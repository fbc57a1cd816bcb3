#!/usr/bin/env bash
# hosts-up.sh - fake hosts node1..nodeN on this machine, reachable with plain `ssh nodeI` (root).
#
#   MODE=netns  each host: own network namespace (eth0 = SUBNET.(10+i) on bridge tsmpibr0; this
#               machine is SUBNET.1), own loopback and port space, own UTS namespace (hostname),
#               own sshd on port 22.
#   MODE=lo     each host: own sshd on 127.0.0.(1+i):2222, own UTS namespace where allowed; one
#               shared network stack and port space (bind the host's own 127.0.0.X).
#   MODE=auto   (default) netns when namespaces can be made (CAP_SYS_ADMIN + CAP_NET_ADMIN), else
#               lo with a warning.
#
# Env: NODES=2  MODE=auto|netns|lo  SUBNET=10.78.0  SSH_PORT (22 netns, 2222 lo)
#      TSMPI_CLUSTER_DIR=/tmp/tsmpi-cluster (state in $TSMPI_CLUSTER_DIR/hosts: keys, configs, logs,
#      PID files, `nodes` = "name address sshd-pid" per line, `mode` = "MODE N SUBNET PORT
#      own-hostnames(yes|no)", `ssh_config` for `ssh -F`).
# System files: /etc/hosts lines tagged "# tsmpi-cluster", /etc/ssh/ssh_config.d/tsmpi-cluster.conf.
# Idempotent: runs hosts-down.sh first. Undo with hosts-down.sh (same env).
set -euo pipefail
T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
N=${NODES:-2}; MODE=${MODE:-auto}; SUBNET=${SUBNET:-10.78.0}
D=${TSMPI_CLUSTER_DIR:-/tmp/tsmpi-cluster}/hosts
TAG="# tsmpi-cluster"; DROPIN=/etc/ssh/ssh_config.d/tsmpi-cluster.conf; BR=tsmpibr0
die() { echo "hosts-up: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[[ "$N" =~ ^[1-9][0-9]?$ ]] || die "NODES must be 1..99, got '$N'"
case "$MODE" in auto|netns|lo) ;; *) die "MODE must be auto, netns or lo, got '$MODE'" ;; esac
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing (run setup.sh)"
"$HERE/hosts-down.sh" >/dev/null

# Refuse names someone else already put in /etc/hosts (ours are gone after hosts-down).
for i in $(seq 1 "$N"); do
  if awk -v h="node$i" '{sub(/#.*/, "")} {for (f = 2; f <= NF; f++) if ($f == h) found = 1} END {exit !found}' /etc/hosts; then
    die "node$i is already in /etc/hosts (not tagged '$TAG'); remove it or it would shadow the fake host"
  fi
done

# What this machine allows: own hostnames need CAP_SYS_ADMIN, netns also CAP_NET_ADMIN.
UTS=(unshare --uts); unshare --uts true 2>/dev/null || UTS=()
if [ "$MODE" = auto ]; then
  MODE=lo
  if [ ${#UTS[@]} -gt 0 ] && ip netns add tsmpi-probe 2>/dev/null; then ip netns del tsmpi-probe; MODE=netns; fi
  [ "$MODE" = netns ] || echo "hosts-up: WARNING: network namespaces not allowed here; falling back to MODE=lo (shared network, 127.0.0.X per host)" >&2
fi
if [ "$MODE" = netns ]; then
  PORT=${SSH_PORT:-22}
  { [ ${#UTS[@]} -gt 0 ] && ip netns add tsmpi-probe 2>/dev/null && ip netns del tsmpi-probe; } \
    || die "MODE=netns, but network/UTS namespaces are not allowed here (use MODE=lo or auto)"
  ip -4 -o addr show | grep -q " $SUBNET\.1/" && die "$SUBNET.1 is already used by another interface; set SUBNET"
else
  PORT=${SSH_PORT:-2222}
fi

mkdir -p "$D" /run/sshd && chmod 700 "$D"
own=no; [ ${#UTS[@]} -gt 0 ] && own=yes
echo "$MODE $N $SUBNET $PORT $own" > "$D/mode"   # own = each host has its own hostname
# One client key and one host key for all fake hosts.
ssh-keygen -q -t ed25519 -N '' -C tsmpi-cluster -f "$D/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C tsmpi-cluster-host -f "$D/host_ed25519"
cp "$D/id_ed25519.pub" "$D/authorized_keys"

if [ "$MODE" = netns ]; then
  ip link add "$BR" type bridge
  ip addr add "$SUBNET.1/24" dev "$BR"
  ip link set "$BR" up
fi

NAMES=""; : > "$D/nodes"
for i in $(seq 1 "$N"); do
  h=node$i
  if [ "$MODE" = netns ]; then
    addr=$SUBNET.$((10 + i)); ns=tsmpi-$h
    ip netns add "$ns"
    ip link add "tsmv$i" type veth peer name eth0 netns "$ns"
    ip link set "tsmv$i" master "$BR" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$SUBNET.1"
    # nsenter, not `ip netns exec`: that also makes a mount namespace with a fresh /sys, so
    # sessions would see no /sys/fs/cgroup. Here only net (+UTS) differ from this machine.
    enter=(nsenter "--net=/run/netns/$ns"); listen=0.0.0.0
  else
    addr=127.0.0.$((1 + i)); enter=(); listen=$addr
  fi
  cat > "$D/sshd_$h.conf" <<EOF
ListenAddress $listen:$PORT
HostKey $D/host_ed25519
PidFile none
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PermitUserEnvironment no
AcceptEnv LANG LC_* TSMPI_*
# default 10:30:100 drops connections once 10 are unauthenticated at once: too few for a launcher
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
EOF
  sethost=""; [ ${#UTS[@]} -gt 0 ] && sethost="hostname $h &&"
  # -D keeps sshd in the foreground; nsenter, unshare (no --fork) and sh all exec, and setsid
  # does not fork in a non-interactive shell, so $! is sshd itself.
  setsid "${enter[@]}" "${UTS[@]}" sh -c "$sethost exec /usr/sbin/sshd -D -f $D/sshd_$h.conf -E $D/sshd_$h.log" \
    </dev/null >/dev/null 2>&1 &
  pid=$!
  echo "$pid" > "$D/sshd_$h.pid"
  echo "$h $addr $pid" >> "$D/nodes"
  printf '%s %s   %s\n' "$addr" "$h" "$TAG" >> /etc/hosts
  NAMES+=" $h"
done

# Client side: a private config (ssh -F) and the same as a system drop-in, so `ssh node1` works.
cat > "$D/ssh_config" <<EOF
$TAG: written by test/cluster/hosts-up.sh, removed by hosts-down.sh
Host$NAMES
  User root
  Port $PORT
  IdentityFile $D/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GSSAPIAuthentication no
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 5
EOF
mkdir -p /etc/ssh/ssh_config.d && cp "$D/ssh_config" "$DROPIN"

# Ready when each host answers with its own name (normally < 1 s).
for h in $NAMES; do
  ok=0; pid=$(cat "$D/sshd_$h.pid")
  for _ in $(seq 1 50); do
    got=$(ssh -o ConnectTimeout=1 "$h" hostname 2>&1) && { ok=1; break; }
    grep -qs -- "$D/sshd_" "/proc/$pid/cmdline" || die "sshd of $h exited: $(tail -n 1 "$D/sshd_$h.log")"
    sleep 0.1
  done
  got=${got//$'\r'/}
  [ $ok = 1 ] || die "$h not reachable over ssh: $got (sshd log: $D/sshd_$h.log; check 'ssh -G $h')"
  if [ ${#UTS[@]} -gt 0 ] && [ "$got" != "$h" ]; then die "ssh $h hostname printed '$got'"; fi
done
[ ${#UTS[@]} -gt 0 ] || echo "hosts-up: WARNING: no UTS namespaces (CAP_SYS_ADMIN missing): every host reports hostname $(hostname)" >&2
ms=$((($(date +%s%N) - T0) / 1000000))
echo "hosts-up: MODE=$MODE hosts:$NAMES ready in $((ms / 1000)).$(printf %03d $((ms % 1000)))s (ssh -F $D/ssh_config also works)"
