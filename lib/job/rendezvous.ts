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
 * strangers is kept at once.
 *
 * @module
 */
import { createRequire } from "node:module";
import net from "node:net";
import { config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { PSK_IDENTITY, RENDEZVOUS_TLS } from "./keys.js";

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
   * The kernel and process namespace the rank runs in (see `memoryDomain` in `p2p.ts`), or ""
   * when it takes no part in single-copy transfers.
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

/** Parses `unix:/path` or `tcp:host:port` into `net.connect`/`listen` options. */
function parseAddress(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("unix:")) return { path: address.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(address);
  if (m) return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
  throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `coordinator address must be unix:PATH or tcp:HOST:PORT, got ${JSON.stringify(address)}`);
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
    if (pending.length > maxLine() && pending.lastIndexOf("\n", maxLine()) < 0) {
      pending = "";
      socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
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
}

const lazy = createRequire(import.meta.url);

/** node:tls, loaded only by a rendezvous between hosts. */
function tls(): typeof import("node:tls") {
  return lazy("node:tls") as typeof import("node:tls");
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

  /** Connections that have not said hello yet, oldest first. */
  private readonly strangers = new Set<net.Socket>();

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
    for (const server of servers) server.on(server instanceof net.Server && "addContext" in server ? "secureConnection" : "connection", (socket: net.Socket) => this.accept(socket));
  }

  /**
   * Listens on `listen` (`unix:PATH`, or `tcp:HOST:PORT` with port 0 for any free port; several
   * TCP addresses share the first one's port) for a job of `size` ranks with secret `key`.
   * Bind the addresses ranks reach (never every interface): a coordinator is no public service.
   */
  static async listen(listen: string | readonly string[], size: number, key: string, events: CoordinatorEvents, options: ServerOptions = {}): Promise<RendezvousServer> {
    const all = typeof listen === "string" ? [listen] : listen;
    if (all.length === 0) throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", "a coordinator needs at least one address to listen on");
    const servers: net.Server[] = [];
    let address = all[0]!;
    let port = 0;
    try {
      for (const spec of all) {
        const where = parseAddress(spec);
        if ("port" in where && port !== 0) where.port = port;
        const helloTimeoutMs = options.helloTimeoutMs ?? config().rendezvousTimeout * 1000;
        const psk = options.psk;
        const server =
          psk && "port" in where
            ? tls().createServer({ ...RENDEZVOUS_TLS, handshakeTimeout: helloTimeoutMs, pskIdentityHint: PSK_IDENTITY, pskCallback: (_s, id) => (id === PSK_IDENTITY ? psk : null) })
            : net.createServer();
        server.on("tlsClientError", () => {}); // a peer without the key: its connection is closed
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(where, () => resolve());
        });
        if ("port" in where && port === 0) {
          port = (server.address() as net.AddressInfo).port;
          const host = options.advertise ?? where.host;
          address = `tcp:${host.includes(":") ? `[${host}]` : host}:${port}`;
        }
      }
    } catch (err) {
      for (const s of servers) s.close();
      throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `the coordinator cannot listen on ${all.join(", ")}: ${(err as Error).message}`, { cause: err });
    }
    return new RendezvousServer(servers, address, size, key, events, options.helloTimeoutMs ?? config().rendezvousTimeout * 1000);
  }

  private accept(socket: net.Socket): void {
    if (!this.holding) socket.unref();
    // A connection is a stranger until its hello names a rank of this job: it gets a bounded
    // line, a bounded time to say hello, and only a bounded number of them stays open at once.
    // Past the bound the oldest stranger goes, so a flood of them cannot lock the ranks out.
    if (this.strangers.size >= this.size + MAX_STRANGERS) this.strangers.values().next().value?.destroy();
    this.strangers.add(socket);
    const welcome = (): void => {
      this.strangers.delete(socket);
      clearTimeout(silent);
    };
    const silent = setTimeout(() => socket.destroy(), this.helloTimeoutMs);
    silent.unref();
    this.connections.add(socket);
    socket.on("close", () => {
      welcome();
      this.connections.delete(socket);
    });
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
        if (hello.t !== "hello" || hello.key !== this.key) return reject("wrong job key (ranks of a direct srun launch must all read the same TSMPI_JOB_KEY or ~/.config/tsmpi/job-key)");
        if (!Number.isInteger(hello.rank) || hello.rank < 0 || hello.rank >= this.size) return reject(`rank ${hello.rank} is not in [0, ${this.size})`);
        if (hello.size !== this.size) return reject(`rank ${hello.rank} believes the job has ${hello.size} ranks, but it has ${this.size}`);
        if (this.hellos[hello.rank]) return reject(`rank ${hello.rank} already joined (pid ${this.hellos[hello.rank]!.pid})`);
        if (this.aborting) {
          write(socket, { t: "abort", ...this.aborting });
          return;
        }
        rank = hello.rank;
        welcome();
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
    private readonly handlers: ClientHandlers,
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
   * `deadline` (ms since the epoch); without (a launcher listens before starting any rank), a
   * refused connection means the launcher is gone.
   * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when no connection could be made (in time).
   */
  static async connect(address: string, deadline: number, handlers: ClientHandlers, retry: boolean, psk?: Buffer): Promise<RendezvousClient> {
    const where = parseAddress(address);
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          if (psk && "port" in where) {
            const s = tls().connect({ ...where, ...RENDEZVOUS_TLS, pskCallback: () => ({ psk, identity: PSK_IDENTITY }), checkServerIdentity: () => undefined });
            s.once("secureConnect", () => resolve(s));
            s.once("error", reject);
            s.once("close", () => reject(Object.assign(new Error("the coordinator closed the connection during the TLS handshake (another job key?)"), { code: "ETLSCLOSED" })));
            return;
          }
          const s = net.connect(where);
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        });
        return new RendezvousClient(socket, address, handlers);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const again = retry && (code === "ECONNREFUSED" || code === "ENOENT" || code === "EHOSTUNREACH" || code === "ETIMEDOUT");
        if (!again || Date.now() + delay > deadline) {
          throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not reach the job's coordinator at ${address}: ${(err as Error).message}`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
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
