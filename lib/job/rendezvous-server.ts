/**
 * The coordinator side of the rendezvous (see `rendezvous.ts` for the protocol): the launcher,
 * or rank 0 of a direct srun launch, listens on a unix socket or on TCP (over TLS-PSK with the
 * job key), checks each rank's hello (the job key, compared in constant time; the pid, host and
 * endpoints before anything uses them), hands out the table once all joined, and then relays
 * aborts, errors, exits and lost connections to its owner, bounding the connections that have
 * not said hello yet.
 *
 * @module
 */
import { createRequire } from "node:module";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { PSK_IDENTITY, RENDEZVOUS_TLS } from "./keys.js";
import { hostPort } from "./network.js";
import { MAX_RANK_LINE, onLines, parseAddress, tls, write, type Hello, type RankReport } from "./rendezvous.js";

const lazy = createRequire(import.meta.url);

/** The highest pid Linux hands out (`pid_max` is at most 2^22). */
const MAX_PID = 2 ** 22;

/**
 * Why a hello's fields are unfit for use, or "" when they are fit. The pid goes into shell
 * commands the launcher runs on the rank's host (`kill`, the heartbeat): a rank of 1 or
 * less, or anything but an integer, would name other processes there (`kill -KILL -1`).
 */
function helloProblem(h: Hello): string {
  if (!Number.isSafeInteger(h.pid) || h.pid < 2 || h.pid > MAX_PID)
    return `rank ${h.rank} sent pid ${JSON.stringify(h.pid)}, not a process id in [2, ${MAX_PID}]`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the class names the control characters (and space) a host name must not hold
  if (typeof h.host !== "string" || h.host.length === 0 || h.host.length > 255 || /[\x00-\x20\x7f]/.test(h.host))
    return `rank ${h.rank} sent host ${JSON.stringify(h.host)}, not a host name`;
  if (!Array.isArray(h.addrs) || h.addrs.length > 16 || !h.addrs.every((a) => typeof a === "string" && a.length <= 4096))
    return `rank ${h.rank} sent malformed endpoints`;
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

/** Connections that have not said hello yet, beyond the job's ranks, a coordinator keeps open. */
const MAX_STRANGERS = 64;

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
  static async listen(
    listen: string | readonly string[],
    size: number,
    key: string,
    events: CoordinatorEvents,
    options: ServerOptions = {},
  ): Promise<RendezvousServer> {
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
  private static async bind(
    all: readonly string[],
    fixed: number | undefined,
    options: ServerOptions,
    helloTimeoutMs: number,
  ): Promise<{ servers: net.Server[]; address: string }> {
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
            ? tls().createServer({
                ...RENDEZVOUS_TLS,
                handshakeTimeout: helloTimeoutMs,
                pskIdentityHint: PSK_IDENTITY,
                pskCallback: (_s, id) => (id === PSK_IDENTITY ? psk : null),
              })
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
    onLines(
      socket,
      (msg) => {
        if (rank < 0) {
          const hello = msg as unknown as Hello;
          const reject = (reason: string): void => {
            write(socket, { t: "reject", reason });
            socket.end();
          };
          if (hello.t !== "hello" || !sameKey(hello.key, this.key))
            return reject("wrong job key (ranks of a direct srun launch must all read the same TSMPI_JOB_KEY or ~/.config/tsmpi/job-key)");
          if (!Number.isInteger(hello.rank) || hello.rank < 0 || hello.rank >= this.size)
            return reject(`rank ${hello.rank} is not in [0, ${this.size})`);
          if (hello.size !== this.size)
            return reject(`rank ${hello.rank} believes the job has ${hello.size} ranks, but it has ${this.size}`);
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
      },
      () => MAX_RANK_LINE,
    );
  }

  private sendTable(): void {
    const hosts = this.hellos.map((h) => h!.host);
    const table = {
      t: "table",
      addrs: this.hellos.map((h) => h!.addrs ?? []),
      hosts,
      pids: this.hellos.map((h) => h!.pid),
      cma: this.hellos.map((h) => (typeof h!.cma === "string" ? h!.cma : "")),
    };
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
