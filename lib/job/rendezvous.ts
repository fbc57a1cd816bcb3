/**
 * Rendezvous: how the ranks of a job find each other, and how failures travel. Between hosts
 * it runs over TLS with a key derived from the job key (`keys.ts`), unless turned off.
 *
 * A coordinator (the launcher, or rank 0 when `srun` starts ranks directly) listens on a unix
 * socket in the private job directory or on TCP. Each rank connects, proves it belongs to the
 * job with the job key, and sends its rank, host and transport endpoint; once all have joined,
 * each gets the table of endpoints. The connection stays open for the life of the rank: a rank
 * reports an abort or an uncaught error over it and says `bye` when it finishes; a connection
 * lost without `bye` means the rank died, and a rank whose coordinator vanishes exits, so no
 * rank outlives its job. Messages are JSON, one per line, of bounded length; a connection that
 * says no hello within the rendezvous timeout is closed, and only a bounded number of such
 * strangers (counting TLS handshakes not yet done) is kept at once. A hello's fields are checked
 * before anything uses them: the launcher puts a rank's pid into shell commands on its host.
 *
 * Rank 0 of a direct srun launch serves at a port others can predict: it takes the first of a
 * few candidate ports it can bind, and ranks try each candidate until one passes the TLS
 * handshake, which a listener without the job key (another job's, another user's) cannot.
 *
 * This module holds what both sides share: the messages, the coordinator's address, the line
 * limits and the line framing. The coordinator is `rendezvous-server.ts`, the rank's side
 * `rendezvous-client.ts`.
 *
 * @module
 */
import { createRequire } from "node:module";
import type net from "node:net";
import { TsmpiError } from "../errors.js";

/** A rank's first message. */
export interface Hello {
  t: "hello";
  key: string;
  rank: number;
  size: number;
  pid: number;
  host: string;
  /** The rank's transport endpoints (`ipc://...`, `tcp://...`; none in a world of one). */
  addrs: string[];
  /**
   * The kernel and process namespace the rank runs in (see `memoryDomain` in
   * `transport/host.ts`), or "" when it takes no part in single-copy transfers.
   */
  cma: string;
}

/** What a coordinator receives after `hello`. */
export type RankReport =
  | { t: "abort"; code: number; reason: string }
  | { t: "error"; reason: string }
  | { t: "exit"; code: number }
  | { t: "bye" };

/** Every rank's endpoints, host, pid and single-copy ability, by world rank. */
export interface Table {
  addrs: string[][];
  hosts: string[];
  pids: number[];
  cma: string[];
}

/** What a rank receives. */
export type CoordinatorMessage = ({ t: "table" } & Table) | { t: "abort"; code: number; reason: string } | { t: "reject"; reason: string };

const lazy = createRequire(import.meta.url);

/**
 * Parses `unix:/path` or `tcp:host:port` into `net.connect`/`listen` options; a rank's
 * coordinator address may name several candidate ports, `tcp:host:p1,p2,...` (direct srun).
 */
export function parseAddress(address: string): { path: string } | { host: string; port: number; ports: number[] } {
  if (address.startsWith("unix:")) return { path: address.slice(5) };
  const m = /^tcp:(.+):(\d+(?:,\d+)*)$/.exec(address);
  const ports = m ? m[2]!.split(",").map(Number) : [];
  if (m && ports.every((p) => p >= 0 && p <= 65535)) return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: ports[0]!, ports };
  throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `coordinator address must be unix:PATH or tcp:HOST:PORT, got ${JSON.stringify(address)}`);
}

/** The longest line a coordinator reads from a rank (a hello, a report); longer: disconnected. */
export const MAX_RANK_LINE = 64 * 1024;
/** The longest line a rank reads from its coordinator: the table grows with the job. */
export function maxTableLine(size: number): number {
  return 1024 * 1024 + size * 8 * 1024;
}
/**
 * Splits a stream into JSON messages, one per line. A line longer than `maxLine` (or one that
 * is not JSON) ends the connection: nothing buffers an unbounded line.
 */
export function onLines(socket: net.Socket, handle: (msg: Record<string, unknown>) => void, maxLine: () => number): void {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    pending += chunk;
    const limit = maxLine();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      // Every line is held to the limit, also one that arrived whole behind a shorter one.
      if (nl > limit) break;
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      if (msg && typeof msg === "object") handle(msg as Record<string, unknown>);
      if (socket.destroyed) return;
    }
    if (pending.length > limit) {
      pending = "";
      socket.destroy();
    }
  });
}

/** Sends one message: a line of JSON (nothing once the socket is closing). */
export function write(socket: net.Socket, msg: object): void {
  if (!socket.destroyed && !socket.writableEnded) socket.write(`${JSON.stringify(msg)}\n`);
}

/** node:tls, loaded only by a rendezvous between hosts. */
export function tls(): typeof import("node:tls") {
  return lazy("node:tls") as typeof import("node:tls");
}
