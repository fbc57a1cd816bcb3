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
 * Size: just over 500 lines, the coordinator and the client with their shared line protocol and
 * its checks; the settings-registry and layout work of issue 18 is to split client from server.
 *
 * @module
 */
import { createRequire } from "node:module";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { PSK_IDENTITY, RENDEZVOUS_TLS } from "./keys.js";
import { hostPort, keepAlive } from "./network.js";

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
function parseAddress(address: string): { path: string } | { host: string; port: number; ports: number[] } {
  if (address.startsWith("unix:")) return { path: address.slice(5) };
  const m = /^tcp:(.+):(\d+(?:,\d+)*)$/.exec(address);
  const ports = m ? m[2]!.split(",").map(Number) : [];
  if (m && ports.every((p) => p >= 0 && p <= 65535)) return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: ports[0]!, ports };
  throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `coordinator address must be unix:PATH or tcp:HOST:PORT, got ${JSON.stringify(address)}`);
}

/** The highest pid Linux hands out (`pid_max` is at most 2^22). */
const MAX_PID = 2 ** 22;

/**
 * Why a hello's fields are unfit for use, or "" when they are fit. The pid goes into shell
 * commands the launcher runs on the rank's host (`kill`, the heartbeat): a rank of 1 or
 * less, or anything but an integer, would name other processes there (`kill -KILL -1`).
 */
function helloProblem(h: Hello): string {
  if (!Number.isSafeInteger(h.pid) || h.pid < 2 || h.pid > MAX_PID) return `rank ${h.rank} sent pid ${JSON.stringify(h.pid)}, not a process id in [2, ${MAX_PID}]`;
  if (typeof h.host !== "string" || h.host.length === 0 || h.host.length > 255 || /[\x00-\x20\x7f]/.test(h.host)) return `rank ${h.rank} sent host ${JSON.stringify(h.host)}, not a host name`;
  if (!Array.isArray(h.addrs) || h.addrs.length > 16 || !h.addrs.every((a) => typeof a === "string" && a.length <= 4096)) return `rank ${h.rank} sent malformed endpoints`;
  if (h.cma !== undefined && (typeof h.cma !== "string" || h.cma.length > 4096)) return `rank ${h.rank} sent a malformed memory domain`;
  return "";
}

/** Whether two job keys are equal, in a time that does not depend on where they differ. */
function sameKey(a: unknown, b: string): boolean {
  if (typeof a !== "string") return false;
  const crypto = lazy("node:crypto") as typeof import("node:crypto");
  // Digests have one length whatever the inputs, which timingSafeEqual needs.
  const digest = (s: string): Buffer => crypto.createHash("sha256").update(s).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

/** The longest line a coordinator reads from a rank (a hello, a report); longer: disconnected. */
export const MAX_RANK_LINE = 64 * 1024;
/** The longest line a rank reads from its coordinator: the table grows with the job. */
export function maxTableLine(size: number): number {
  return 1024 * 1024 + size * 8 * 1024;
}
/** Connections that have not said hello yet, beyond the job's ranks, a coordinator keeps open. */
const MAX_STRANGERS = 64;

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
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
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

function write(socket: net.Socket, msg: object): void {
  if (!socket.destroyed && !socket.writableEnded) socket.write(JSON.stringify(msg) + "\n");
}

/** What a coordinator tells its owner. */
export interface CoordinatorEvents {
  /** A rank joined. */
  join?(rank: number, hello: Hello): void;
  /** All ranks joined and got the table. */
  ready?(hosts: string[]): void;
  /** A rank called `abort(code)`. */
  abort?(rank: number, code: number, reason: string): void;
  /** A rank reported an uncaught error (it is about to exit). */
  error?(rank: number, reason: string): void;
  /** A rank said bye (finished normally). */
  bye?(rank: number): void;
  /** A rank reported its exit code (sent as the process exits; not sent when it is killed). */
  exit?(rank: number, code: number): void;
  /** A rank's connection closed without bye. */
  lost?(rank: number): void;
}

/** Limits of a coordinator. */
export interface ServerOptions {
  /** `advertise`: the host ranks should dial for TCP (default: the first listening address). */
  advertise?: string;
  /** Milliseconds a connection may stay open without saying hello (default: the rendezvous timeout). */
  helloTimeoutMs?: number;
  /**
   * The job's pre-shared key (`keys.ts`): TCP connections then run over TLS-PSK, encrypted, and
   * only peers holding the job key get past the handshake. Unix sockets stay plain.
   */
  psk?: Buffer;
  /**
   * Candidate ports for TCP addresses (their own port is then ignored), tried in order while
   * the port is taken (EADDRINUSE): by another job, or by someone squatting a port they can
   * predict (rank 0 of a direct srun launch).
   */
  ports?: readonly number[];
}

/** node:tls, loaded only by a rendezvous between hosts. */
function tls(): typeof import("node:tls") {
  return lazy("node:tls") as typeof import("node:tls");
}

/** A TCP connection's address 4-tuple: the same for a TLS socket as for the TCP socket under it. */
function tuple(s: net.Socket): string {
  return `${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}`;
}

/** The coordinator side. */
export class RendezvousServer {
  private readonly sockets: (net.Socket | undefined)[];
  private readonly hellos: (Hello | undefined)[];
  private readonly finished = new Set<number>();
  private readonly finishWaiters: (() => void)[] = [];
  private readonly connections = new Set<net.Socket>();
  private holding = true;
  private aborting: { code: number; reason: string } | undefined;
  private joined = 0;

  /**
   * Connections that have not said hello yet, oldest first, as the TCP (or unix) sockets they
   * arrived on: over TLS a connection counts from its first byte, handshake included, so a flood
   * of handshakes that never finish is bounded as well.
   */
  private readonly strangers = new Set<net.Socket>();
  /** The TCP socket under each TLS connection still in the strangers' set, by its address 4-tuple. */
  private readonly under = new Map<string, net.Socket>();

  private constructor(
    private readonly servers: net.Server[],
    /** Where ranks connect: `unix:PATH` or `tcp:HOST:PORT`. */
    readonly address: string,
    readonly size: number,
    private readonly key: string,
    private readonly events: CoordinatorEvents,
    private readonly helloTimeoutMs: number,
  ) {
    this.sockets = new Array(size);
    this.hellos = new Array(size);
    for (const server of servers) {
      const secure = "addContext" in server;
      server.on("connection", (raw: net.Socket) => {
        this.admit(raw, secure);
        if (!secure) this.accept(raw, raw);
      });
      if (secure) server.on("secureConnection", (socket: TLSSocket) => this.accept(socket, this.under.get(tuple(socket))));
    }
  }

  /**
   * Listens on `listen` (`unix:PATH`, or `tcp:HOST:PORT` with port 0 for any free port; several
   * TCP addresses share the first one's port, or the first of `options.ports` free on all) for a
   * job of `size` ranks with secret `key`. Bind the addresses ranks reach (never every
   * interface): a coordinator is no public service.
   * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when it cannot listen (naming every port tried).
   */
  static async listen(listen: string | readonly string[], size: number, key: string, events: CoordinatorEvents, options: ServerOptions = {}): Promise<RendezvousServer> {
    const all = typeof listen === "string" ? [listen] : listen;
    if (all.length === 0) throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", "a coordinator needs at least one address to listen on");
    const helloTimeoutMs = options.helloTimeoutMs ?? config().rendezvousTimeout * 1000;
    const candidates = options.ports?.length ? options.ports : [undefined];
    const taken: number[] = [];
    for (const [i, port] of candidates.entries()) {
      try {
        const { servers, address } = await RendezvousServer.bind(all, port, options, helloTimeoutMs);
        return new RendezvousServer(servers, address, size, key, events, helloTimeoutMs);
      } catch (err) {
        const inUse = (err as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (inUse && port !== undefined) taken.push(port);
        if (inUse && i + 1 < candidates.length) continue;
        const why =
          taken.length > 0
            ? `${taken.length > 1 ? `ports ${taken.join(", ")} are all` : `port ${taken[0]} is`} in use (by other jobs, or by other users' programs holding them); set TSMPI_SLURM_PORT to a free port`
            : (err as Error).message;
        throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `the coordinator cannot listen on ${all.join(", ")}: ${why}`, { cause: err });
      }
    }
    throw new TsmpiError("ERR_TSMPI_INTERNAL", "no candidate port was tried");
  }

  /** Binds every address of `all` (TCP ones on `port` when given); closes what it bound on failure. */
  private static async bind(all: readonly string[], fixed: number | undefined, options: ServerOptions, helloTimeoutMs: number): Promise<{ servers: net.Server[]; address: string }> {
    const servers: net.Server[] = [];
    let address = all[0]!;
    let port = fixed ?? 0;
    let advertised = false;
    try {
      for (const spec of all) {
        const where = parseAddress(spec);
        const opts = "port" in where ? { host: where.host, port: port !== 0 ? port : where.port } : where;
        const psk = options.psk;
        const server =
          psk && "port" in where
            ? tls().createServer({ ...RENDEZVOUS_TLS, handshakeTimeout: helloTimeoutMs, pskIdentityHint: PSK_IDENTITY, pskCallback: (_s, id) => (id === PSK_IDENTITY ? psk : null) })
            : net.createServer();
        server.on("tlsClientError", () => {}); // a peer without the key: its connection is closed
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(opts, () => resolve());
        });
        if ("port" in opts) {
          port = (server.address() as net.AddressInfo).port;
          if (!advertised) address = `tcp:${hostPort(options.advertise ?? opts.host, port)}`;
          advertised = true;
        }
      }
    } catch (err) {
      for (const s of servers) s.close();
      throw err;
    }
    return { servers, address };
  }

  /**
   * A new connection (the TCP socket, under TLS before its handshake): a stranger until its
   * hello names a rank of this job. It gets a bounded time to say hello, and only a bounded
   * number of strangers stays open at once: past the bound the oldest goes, so a flood of them
   * cannot lock the ranks out.
   */
  private admit(raw: net.Socket, secure: boolean): void {
    if (this.strangers.size >= this.size + MAX_STRANGERS) this.strangers.values().next().value?.destroy();
    this.strangers.add(raw);
    const id = secure ? tuple(raw) : "";
    if (secure) this.under.set(id, raw);
    const silent = setTimeout(() => raw.destroy(), this.helloTimeoutMs);
    silent.unref();
    const welcome = (): void => {
      clearTimeout(silent);
      this.strangers.delete(raw);
      if (secure && this.under.get(id) === raw) this.under.delete(id);
    };
    this.welcomes.set(raw, welcome);
    raw.on("error", () => {});
    raw.on("close", welcome);
  }

  /** What ends each stranger's probation, by its TCP socket. */
  private readonly welcomes = new WeakMap<net.Socket, () => void>();

  private accept(socket: net.Socket, raw: net.Socket | undefined): void {
    if (!this.holding) socket.unref();
    this.connections.add(socket);
    socket.on("close", () => this.connections.delete(socket));
    let rank = -1;
    socket.on("error", () => {});
    socket.on("close", () => {
      if (rank >= 0 && this.sockets[rank] === socket) {
        this.sockets[rank] = undefined;
        if (!this.finished.has(rank)) this.events.lost?.(rank);
      }
    });
    onLines(socket, (msg) => {
      if (rank < 0) {
        const hello = msg as unknown as Hello;
        const reject = (reason: string): void => {
          write(socket, { t: "reject", reason });
          socket.end();
        };
        if (hello.t !== "hello" || !sameKey(hello.key, this.key)) return reject("wrong job key (ranks of a direct srun launch must all read the same TSMPI_JOB_KEY or ~/.config/tsmpi/job-key)");
        if (!Number.isInteger(hello.rank) || hello.rank < 0 || hello.rank >= this.size) return reject(`rank ${hello.rank} is not in [0, ${this.size})`);
        if (hello.size !== this.size) return reject(`rank ${hello.rank} believes the job has ${hello.size} ranks, but it has ${this.size}`);
        const problem = helloProblem(hello);
        if (problem) return reject(problem);
        if (this.hellos[hello.rank]) return reject(`rank ${hello.rank} already joined (pid ${this.hellos[hello.rank]!.pid})`);
        if (this.aborting) {
          write(socket, { t: "abort", ...this.aborting });
          return;
        }
        rank = hello.rank;
        if (raw) this.welcomes.get(raw)?.();
        this.sockets[rank] = socket;
        this.hellos[rank] = hello;
        this.joined++;
        this.events.join?.(rank, hello);
        if (this.joined === this.size) this.sendTable();
        return;
      }
      const report = msg as unknown as RankReport;
      if (report.t === "bye") {
        this.finished.add(rank);
        this.events.bye?.(rank);
        if (this.finished.size === this.size) for (const w of this.finishWaiters.splice(0)) w();
      } else if (report.t === "abort") this.events.abort?.(rank, Number(report.code), String(report.reason ?? ""));
      else if (report.t === "error") this.events.error?.(rank, String(report.reason ?? ""));
      else if (report.t === "exit") this.events.exit?.(rank, Number(report.code));
    }, () => MAX_RANK_LINE);
  }

  private sendTable(): void {
    const hosts = this.hellos.map((h) => h!.host);
    const table = { t: "table", addrs: this.hellos.map((h) => h!.addrs ?? []), hosts, pids: this.hellos.map((h) => h!.pid), cma: this.hellos.map((h) => (typeof h!.cma === "string" ? h!.cma : "")) };
    for (const s of this.sockets) if (s) write(s, table);
    this.events.ready?.(hosts);
  }

  /** Whether `rank` has joined. */
  hasJoined(rank: number): boolean {
    return this.hellos[rank] !== undefined;
  }

  /** What `rank` said when it joined (its host and pid), if it did. */
  helloOf(rank: number): Hello | undefined {
    return this.hellos[rank];
  }

  /** Whether `rank` said bye. */
  hasFinished(rank: number): boolean {
    return this.finished.has(rank);
  }

  /** Number of ranks that joined so far. */
  get joinedCount(): number {
    return this.joined;
  }

  /** Number of ranks that said bye. */
  get finishedCount(): number {
    return this.finished.size;
  }

  /**
   * Whether the coordinator keeps the process alive. A rank serving the rendezvous lets go
   * while its script runs (so Node can tell when the script is done) and holds on again while
   * it waits for the others to finish.
   */
  hold(on: boolean): void {
    this.holding = on;
    for (const server of this.servers) {
      if (on) server.ref();
      else server.unref();
    }
    for (const c of this.connections) {
      if (on) c.ref();
      else c.unref();
    }
  }

  /** Resolves once every rank said bye. */
  allFinished(): Promise<void> {
    if (this.finished.size === this.size) return Promise.resolve();
    return new Promise((resolve) => this.finishWaiters.push(resolve));
  }

  /** Tells every connected rank, and any that joins from now on, to abort with `code`. */
  abortAll(code: number, reason: string): void {
    this.aborting = { code, reason };
    for (const s of this.sockets) if (s) write(s, { t: "abort", ...this.aborting });
  }

  /** Stops listening and drops every connection. */
  close(): void {
    for (const s of this.sockets) s?.destroy();
    for (const server of this.servers) server.close();
  }
}

/** What a rank does when the coordinator orders an abort or disappears. */
export interface ClientHandlers {
  abort(code: number, reason: string): void;
  lost(): void;
}

/** The rank side: a live connection to the coordinator. */
export class RendezvousClient {
  private closing = false;
  private joined = false;
  /** Why the connection closed before the table came (join then fails at once). */
  private closedEarly: TsmpiError | undefined;
  private pending: { resolve(t: Table): void; reject(e: Error): void } | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly address: string,
    handlers: ClientHandlers,
  ) {
    socket.on("error", () => {});
    socket.on("close", () => {
      if (!this.joined) {
        // Possibly before join() was called (the rank was still binding its sockets).
        this.closedEarly = this.failure("the coordinator closed the connection (the launcher or rank 0 is gone)");
        this.pending?.reject(this.closedEarly);
      } else if (!this.closing) handlers.lost();
    });
    onLines(socket, (msg) => {
      const m = msg as unknown as CoordinatorMessage;
      if (m.t === "table" && !this.joined) {
        this.joined = true;
        socket.unref();
        this.pending?.resolve({ addrs: m.addrs, hosts: m.hosts, pids: m.pids, cma: m.cma });
      } else if (m.t === "reject") this.pending?.reject(this.failure(m.reason));
      else if (m.t === "abort") handlers.abort(Number(m.code), String(m.reason ?? ""));
    }, () => maxTableLine(this.size));
  }

  /** The job's size, once join() was called (bounds the table's line). */
  private size = 0;

  private failure(why: string, cause?: unknown): TsmpiError {
    return new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not join the job at ${this.address}: ${why}`, { cause });
  }

  /**
   * Connects to the coordinator at `address`. With `retry` (rank 0 serves the rendezvous and
   * may start after this rank), a coordinator not listening yet is tried again until
   * `deadline` (ms since the epoch), on each candidate port the address names, and a listener
   * that fails the TLS handshake (it does not hold the job key: another job's coordinator, or
   * someone holding a port they could predict) is passed over for the next candidate; without
   * (a launcher listens before starting any rank), a refused connection means the launcher is gone.
   * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when no connection could be made (in time).
   */
  static async connect(address: string, deadline: number, handlers: ClientHandlers, retry: boolean, psk?: Buffer): Promise<RendezvousClient> {
    const where = parseAddress(address);
    const candidates: ({ path: string } | { host: string; port: number })[] = "ports" in where ? where.ports.map((port) => ({ host: where.host, port })) : [where];
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      const failures: string[] = [];
      let last: unknown;
      let foreign = false;
      for (const to of candidates) {
        try {
          const socket = await RendezvousClient.dial(to, psk, deadline);
          // A launcher whose host vanished sends nothing ever again: without probes a rank
          // blocked in recv on another host would wait forever (TSMPI_HEARTBEAT_TIMEOUT).
          if ("port" in to) keepAlive(socket, config().heartbeatTimeout);
          return new RendezvousClient(socket, address, handlers);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const again = retry && (code === "ECONNREFUSED" || code === "ENOENT" || code === "EHOSTUNREACH" || code === "ETIMEDOUT");
          const stranger = retry && psk !== undefined && "port" in to && !again;
          if (!again && !stranger) {
            throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not reach the job's coordinator at ${address}: ${(err as Error).message}`, { cause: err });
          }
          last = err;
          foreign ||= stranger;
          failures.push(`${"port" in to ? `port ${to.port}` : to.path}: ${stranger ? `a listener that failed the TLS handshake (${(err as Error).message})` : (err as Error).message}`);
        }
      }
      if (Date.now() + delay > deadline) {
        const hint = foreign
          ? "; a listener that fails the handshake does not hold this job's key: another job's coordinator, another user's program holding the port (set TSMPI_SLURM_PORT to a free one), or ranks that read different TSMPI_JOB_KEY / job-key files"
          : "";
        throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not reach the job's coordinator at ${address}: ${failures.join("; ")}${hint}`, { cause: last });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Longest wait for one TLS handshake: a listener that accepts and never answers is passed over. */
  private static readonly HANDSHAKE_MS = 5000;

  /** Opens one connection (over TLS-PSK to a TCP address when `psk` is given). */
  private static dial(to: { path: string } | { host: string; port: number }, psk: Buffer | undefined, deadline: number): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      if (psk && "port" in to) {
        const s = tls().connect({ ...to, ...RENDEZVOUS_TLS, pskCallback: () => ({ psk, identity: PSK_IDENTITY }), checkServerIdentity: () => undefined });
        const timer = setTimeout(() => {
          s.destroy();
          reject(Object.assign(new Error("no TLS handshake within 5 s"), { code: "ETLSSILENT" }));
        }, Math.max(100, Math.min(RendezvousClient.HANDSHAKE_MS, deadline - Date.now())));
        s.once("secureConnect", () => (clearTimeout(timer), resolve(s)));
        s.once("error", (err) => (clearTimeout(timer), reject(err)));
        s.once("close", () => (clearTimeout(timer), reject(Object.assign(new Error("the coordinator closed the connection during the TLS handshake (another job key?)"), { code: "ETLSCLOSED" }))));
        return;
      }
      const s = net.connect(to);
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
  }

  /** The TLS cipher suite of the connection (e.g. `ECDHE-PSK-CHACHA20-POLY1305`), or undefined when it runs in clear. */
  get cipher(): string | undefined {
    return "getCipher" in this.socket ? (this.socket as TLSSocket).getCipher()?.name : undefined;
  }

  /** The local address of the connection (TCP only): the interface that reaches the coordinator. */
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  /**
   * Joins: sends `hello` and resolves with every rank's endpoints and host once all joined.
   * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when refused or not complete by `deadline`.
   */
  join(hello: Hello, deadline: number): Promise<Table> {
    if (this.closedEarly) return Promise.reject(this.closedEarly);
    this.size = hello.size;
    return new Promise<Table>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.failure(`not all ${hello.size} ranks joined within ${Math.round((deadline - Date.now() + 500) / 1000)} s`));
        this.socket.destroy();
      }, Math.max(0, deadline - Date.now()));
      this.pending = {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      write(this.socket, hello);
    });
  }

  /** Sends a report to the coordinator; written at once when the socket allows it. */
  report(msg: RankReport): void {
    // Keep a long reason (a deep error message) within the coordinator's line limit.
    if ("reason" in msg && msg.reason.length > MAX_RANK_LINE / 4) msg = { ...msg, reason: `${msg.reason.slice(0, MAX_RANK_LINE / 4)}...` };
    write(this.socket, msg);
  }

  /** Says bye and closes: this rank finished normally. */
  bye(): void {
    this.closing = true;
    write(this.socket, { t: "bye" });
    this.socket.end();
  }
}
