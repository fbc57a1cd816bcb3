/**
 * Which address a process should advertise to its peers, on hosts with several interfaces.
 *
 * The rule: advertise the address of the interface that routes to the peers (the kernel's
 * choice of source address for a datagram "connected" to a peer, which sends nothing), never a
 * loopback address to a remote peer, even where the host name resolves to 127.0.0.1. An
 * interface name (`eth0`) or a subnet (`10.77.0.0/24`) given with `--iface`/`TSMPI_IFACE`
 * overrides the choice.
 *
 * Not supported yet: IPv6 link-local addresses (they need a scope id).
 *
 * @module
 */
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import { TsmpiError } from "../errors.js";
import { getBinding } from "../native.js";

/** node:dns and node:dgram, loaded when a multi-host job needs a route (not at every start-up). */
const lazy = createRequire(import.meta.url);

/**
 * Makes a TCP connection notice a peer that vanished without a word (its host crashed or lost
 * its link: no FIN, no RST ever comes) within about `timeoutS` seconds of silence: keepalive
 * probes from `timeoutS / 2` on, and TCP_USER_TIMEOUT for data left unacknowledged. The socket
 * then closes with ETIMEDOUT. Needs the native addon for the probe interval and count (libuv
 * fixes them at 1 s and 10); without it, Node's own keepalive notices after `max(timeoutS, 11)`
 * seconds. Does nothing to a socket that is not TCP.
 */
export function keepAlive(socket: net.Socket, timeoutS: number): void {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return;
  const idle = Math.max(1, Math.floor(timeoutS / 2));
  const interval = Math.max(1, Math.floor((timeoutS - idle) / 5));
  const count = Math.max(1, Math.ceil((timeoutS - idle) / interval));
  if (getBinding()?.tcpKeepalive(fd, idle, interval, count, Math.round(timeoutS * 1000))) return;
  socket.setKeepAlive(true, Math.max(1, Math.floor(timeoutS - 10)) * 1000);
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address === "::ffff:127.0.0.1";
}

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

function inSubnet(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  if (!net.isIPv4(base ?? "") || !net.isIPv4(address) || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ipv4ToInt(address) & mask) >>> 0 === (ipv4ToInt(base!) & mask) >>> 0;
}

/**
 * The IPv4 address of this host on interface `spec`: an interface name (`eth0`) or a subnet in
 * CIDR form (`10.0.0.0/8`).
 * @throws TsmpiError `ERR_TSMPI_ARG` when no interface matches, naming the interfaces there are.
 */
export function interfaceAddress(spec: string): string {
  const all = os.networkInterfaces();
  const v4 = (name: string) => (all[name] ?? []).filter((a) => a.family === "IPv4").map((a) => a.address);
  if (spec.includes("/")) {
    for (const name of Object.keys(all)) {
      const hit = v4(name).find((a) => inSubnet(a, spec));
      if (hit) return hit;
    }
  } else if (v4(spec).length > 0) {
    return v4(spec)[0]!;
  }
  const have = Object.keys(all)
    .map((n) => `${n} (${v4(n).join(", ") || "no IPv4"})`)
    .join(", ");
  throw new TsmpiError(
    "ERR_TSMPI_ARG",
    `iface must name an interface or a subnet of this host (${os.hostname()}): ${have}; got ${JSON.stringify(spec)}`,
  );
}

/**
 * The local address the kernel would use to reach `host` (resolved first); nothing is sent.
 * @throws TsmpiError `ERR_TSMPI_LAUNCH` when `host` does not resolve, naming it.
 */
export async function routeTo(host: string): Promise<string> {
  const dns = lazy("node:dns/promises") as typeof import("node:dns/promises");
  const dgram = lazy("node:dgram") as typeof import("node:dgram");
  const { address, family } = await dns.lookup(host).catch((err: NodeJS.ErrnoException) => {
    throw new TsmpiError(
      "ERR_TSMPI_LAUNCH",
      `cannot resolve the host name ${JSON.stringify(host)} (${err.code ?? err.message}); check --host/--hostfile, or name this host's interface with --iface`,
      { cause: err },
    );
  });
  const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(9, address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/**
 * The address this host should advertise to peers on `hosts`: from `iface` when given, else
 * the source address of the route to the first host that is not this one. A loopback result
 * (every host is this one) is kept only when there is no remote peer.
 */
export async function advertisedAddress(hosts: readonly string[], iface: string | undefined): Promise<string> {
  if (iface) return interfaceAddress(iface);
  const me = os.hostname();
  const remote = hosts.find((h) => h !== me && h !== "localhost" && !isLoopback(h));
  if (!remote) return "127.0.0.1";
  const address = await routeTo(remote);
  if (isLoopback(address)) {
    throw new TsmpiError(
      "ERR_TSMPI_LAUNCH",
      `the route from ${me} to ${remote} leaves through a loopback address (${address}); is ${remote} this host? Pick the interface with --iface`,
    );
  }
  return address;
}

/** Formats `host:port` for a ZeroMQ or coordinator address (IPv6 in brackets). */
export function hostPort(host: string, port: number | string): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The addresses a coordinator on this host should listen on so that ranks dialling `host` (a
 * name of this host) reach it, and no other: what `host` resolves to here (when it is an
 * address of this host), plus the address of the route towards `remote` (another node of the
 * job, whose ranks may resolve `host` differently), or only `iface`'s address when given.
 */
export async function listenAddresses(host: string, remote: string | undefined, iface: string | undefined): Promise<string[]> {
  if (iface) return [interfaceAddress(iface)];
  const dns = lazy("node:dns/promises") as typeof import("node:dns/promises");
  const local = new Set(Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
  const found = new Set<string>();
  for (const { address } of await dns.lookup(host, { all: true }).catch(() => [])) {
    if (local.has(address) || isLoopback(address)) found.add(address);
  }
  if (remote) found.add(await routeTo(remote));
  if (found.size === 0) {
    throw new TsmpiError(
      "ERR_TSMPI_RENDEZVOUS",
      `${host} resolves to no address of this host (${os.hostname()}), so ranks dialling it cannot reach the rendezvous here; set TSMPI_IFACE to an interface or subnet`,
    );
  }
  return [...found];
}
