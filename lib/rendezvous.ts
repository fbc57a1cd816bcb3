/**
 * Rendezvous: how the ranks of a job find each other, and how failures travel.
 *
 * A coordinator (the launcher, or rank 0 when `srun` starts ranks directly) listens on a unix
 * socket in the private job directory or on TCP. Each rank connects, proves it belongs to the
 * job with the job key, and sends its rank, host and transport endpoint; once all have joined,
 * each gets the table of endpoints. The connection stays open for the life of the rank: a rank
 * reports an abort or an uncaught error over it and says `bye` when it finishes; a connection
 * lost without `bye` means the rank died, and a rank whose coordinator vanishes exits, so no
 * rank outlives its job. Messages are JSON, one per line.
 *
 * @module
 */
import net from "node:net";
import { TsmpiError } from "./errors.js";

/** A rank's first message. */
export interface Hello {
  t: "hello";
  key: string;
  rank: number;
  size: number;
  pid: number;
  host: string;
  /** The rank's transport endpoint (null when it has none: a world of one). */
  addr: string | null;
}

/** What a coordinator receives after `hello`. */
export type RankReport = { t: "abort"; code: number; reason: string } | { t: "error"; reason: string } | { t: "bye" };

/** What a rank receives. */
export type CoordinatorMessage =
  | { t: "table"; addrs: (string | null)[]; hosts: string[] }
  | { t: "abort"; code: number; reason: string }
  | { t: "reject"; reason: string };

/** Parses `unix:/path` or `tcp:host:port` into `net.connect`/`listen` options. */
function parseAddress(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("unix:")) return { path: address.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(address);
  if (m) return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
  throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `coordinator address must be unix:PATH or tcp:HOST:PORT, got ${JSON.stringify(address)}`);
}

/** Splits a stream into JSON messages, one per line. */
function onLines(socket: net.Socket, handle: (msg: Record<string, unknown>) => void): void {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    pending += chunk;
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
  if (!socket.destroyed) socket.write(JSON.stringify(msg) + "\n");
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
  /** A rank's connection closed without bye. */
  lost?(rank: number): void;
}

/** The coordinator side. */
export class RendezvousServer {
  private readonly sockets: (net.Socket | undefined)[];
  private readonly hellos: (Hello | undefined)[];
  private readonly finished = new Set<number>();
  private joined = 0;

  private constructor(
    private readonly server: net.Server,
    /** Where ranks connect: `unix:PATH` or `tcp:HOST:PORT`. */
    readonly address: string,
    readonly size: number,
    private readonly key: string,
    private readonly events: CoordinatorEvents,
  ) {
    this.sockets = new Array(size);
    this.hellos = new Array(size);
    server.on("connection", (socket) => this.accept(socket));
  }

  /**
   * Listens on `listen` (`unix:PATH`, or `tcp:HOST:PORT` with port 0 for any free port) for a
   * job of `size` ranks with secret `key`. `advertise` is the host ranks should dial for TCP.
   */
  static async listen(listen: string, size: number, key: string, events: CoordinatorEvents, advertise?: string): Promise<RendezvousServer> {
    const server = net.createServer();
    const where = parseAddress(listen);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(where, () => resolve());
    });
    let address = listen;
    if ("port" in where) {
      const port = (server.address() as net.AddressInfo).port;
      const host = advertise ?? where.host;
      address = `tcp:${host.includes(":") ? `[${host}]` : host}:${port}`;
    }
    return new RendezvousServer(server, address, size, key, events);
  }

  private accept(socket: net.Socket): void {
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
        if (hello.t !== "hello" || hello.key !== this.key) return reject("wrong job key");
        if (!Number.isInteger(hello.rank) || hello.rank < 0 || hello.rank >= this.size) return reject(`rank ${hello.rank} is not in [0, ${this.size})`);
        if (hello.size !== this.size) return reject(`rank ${hello.rank} believes the job has ${hello.size} ranks, but it has ${this.size}`);
        if (this.hellos[hello.rank]) return reject(`rank ${hello.rank} already joined (pid ${this.hellos[hello.rank]!.pid})`);
        rank = hello.rank;
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
      } else if (report.t === "abort") this.events.abort?.(rank, Number(report.code), String(report.reason ?? ""));
      else if (report.t === "error") this.events.error?.(rank, String(report.reason ?? ""));
    });
  }

  private sendTable(): void {
    const hosts = this.hellos.map((h) => h!.host);
    const table = { t: "table", addrs: this.hellos.map((h) => h!.addr), hosts };
    for (const s of this.sockets) if (s) write(s, table);
    this.events.ready?.(hosts);
  }

  /** Whether `rank` has joined. */
  hasJoined(rank: number): boolean {
    return this.hellos[rank] !== undefined;
  }

  /** Number of ranks that joined so far. */
  get joinedCount(): number {
    return this.joined;
  }

  /** Number of ranks that said bye. */
  get finishedCount(): number {
    return this.finished.size;
  }

  /** Tells every connected rank to abort with `code`. */
  abortAll(code: number, reason: string): void {
    for (const s of this.sockets) if (s) write(s, { t: "abort", code, reason });
  }

  /** Stops listening and drops every connection. */
  close(): void {
    for (const s of this.sockets) s?.destroy();
    this.server.close();
  }
}

/** The rank side: a live connection to the coordinator. */
export class RendezvousClient {
  private closing = false;

  private constructor(
    private readonly socket: net.Socket,
    /** Every rank's transport endpoint, by world rank. */
    readonly addrs: (string | null)[],
    /** Every rank's host name, by world rank. */
    readonly hosts: string[],
  ) {}

  /**
   * Joins the job at `address` and resolves with the endpoint table once every rank joined.
   * `onAbort` runs if the coordinator orders an abort; `onLost` if it disappears.
   * @throws TsmpiError `ERR_TSMPI_RENDEZVOUS` when refused or not complete within `timeoutMs`.
   */
  static join(
    address: string,
    hello: Hello,
    timeoutMs: number,
    onAbort: (code: number, reason: string) => void,
    onLost: () => void,
  ): Promise<RendezvousClient> {
    const where = parseAddress(address);
    return new Promise((resolve, reject) => {
      const socket = net.connect(where);
      let client: RendezvousClient | undefined;
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new TsmpiError("ERR_TSMPI_RENDEZVOUS", `rank ${hello.rank} could not join the job at ${address}: ${why}`, { cause }));
      };
      const timer = setTimeout(() => fail(`not all ${hello.size} ranks joined within ${timeoutMs / 1000} s`), timeoutMs);
      socket.on("error", (err) => (client ? undefined : fail(err.message, err)));
      socket.on("close", () => {
        if (!client) return fail("the coordinator closed the connection");
        if (!client.closing) onLost();
      });
      socket.on("connect", () => write(socket, hello));
      onLines(socket, (msg) => {
        const m = msg as unknown as CoordinatorMessage;
        if (m.t === "table" && !client) {
          clearTimeout(timer);
          client = new RendezvousClient(socket, m.addrs, m.hosts);
          socket.unref();
          resolve(client);
        } else if (m.t === "reject") fail(m.reason);
        else if (m.t === "abort") onAbort(Number(m.code), String(m.reason ?? ""));
      });
    });
  }

  /** Sends a report to the coordinator; written at once when the socket allows it. */
  report(msg: RankReport): void {
    write(this.socket, msg);
  }

  /** Says bye and closes: this rank finished normally. */
  bye(): void {
    this.closing = true;
    write(this.socket, { t: "bye" });
    this.socket.end();
  }
}
