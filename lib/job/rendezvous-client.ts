/**
 * The rank side of the rendezvous (see `rendezvous.ts` for the protocol): a rank connects to
 * its coordinator (trying each candidate port of a direct srun launch, passing over listeners
 * that fail the TLS handshake), says hello, waits for the table, and keeps the connection for
 * its life: it reports an abort, an error or its exit over it, says bye when it finishes, and
 * learns there of an abort ordered for the job or of the coordinator's end.
 *
 * @module
 */
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { PSK_IDENTITY, RENDEZVOUS_TLS } from "./keys.js";
import { keepAlive } from "./network.js";
import {
  MAX_RANK_LINE,
  maxTableLine,
  onLines,
  parseAddress,
  tls,
  write,
  type CoordinatorMessage,
  type Hello,
  type RankReport,
  type Table,
} from "./rendezvous.js";

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
    onLines(
      socket,
      (msg) => {
        const m = msg as unknown as CoordinatorMessage;
        if (m.t === "table" && !this.joined) {
          this.joined = true;
          socket.unref();
          this.pending?.resolve({ addrs: m.addrs, hosts: m.hosts, pids: m.pids, cma: m.cma });
        } else if (m.t === "reject") this.pending?.reject(this.failure(m.reason));
        else if (m.t === "abort") handlers.abort(Number(m.code), String(m.reason ?? ""));
      },
      () => maxTableLine(this.size),
    );
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
  static async connect(
    address: string,
    deadline: number,
    handlers: ClientHandlers,
    retry: boolean,
    psk?: Buffer,
  ): Promise<RendezvousClient> {
    const where = parseAddress(address);
    const candidates: ({ path: string } | { host: string; port: number })[] =
      "ports" in where ? where.ports.map((port) => ({ host: where.host, port })) : [where];
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
            throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not reach the job's coordinator at ${address}: ${(err as Error).message}`, {
              cause: err,
            });
          }
          last = err;
          foreign ||= stranger;
          failures.push(
            `${"port" in to ? `port ${to.port}` : to.path}: ${stranger ? `a listener that failed the TLS handshake (${(err as Error).message})` : (err as Error).message}`,
          );
        }
      }
      if (Date.now() + delay > deadline) {
        const hint = foreign
          ? "; a listener that fails the handshake does not hold this job's key: another job's coordinator, another user's program holding the port (set TSMPI_SLURM_PORT to a free one), or ranks that read different TSMPI_JOB_KEY / job-key files"
          : "";
        throw new TsmpiError("ERR_TSMPI_RENDEZVOUS", `could not reach the job's coordinator at ${address}: ${failures.join("; ")}${hint}`, {
          cause: last,
        });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Longest wait for one TLS handshake: a listener that accepts and never answers is passed over. */
  private static readonly HANDSHAKE_MS = 5000;

  /** Opens one connection (over TLS-PSK to a TCP address when `psk` is given). */
  private static dial(
    to: { path: string } | { host: string; port: number },
    psk: Buffer | undefined,
    deadline: number,
  ): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      if (psk && "port" in to) {
        const s = tls().connect({
          ...to,
          ...RENDEZVOUS_TLS,
          pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
          checkServerIdentity: () => undefined,
        });
        const timer = setTimeout(
          () => {
            s.destroy();
            reject(Object.assign(new Error("no TLS handshake within 5 s"), { code: "ETLSSILENT" }));
          },
          Math.max(100, Math.min(RendezvousClient.HANDSHAKE_MS, deadline - Date.now())),
        );
        s.once("secureConnect", () => {
          clearTimeout(timer);
          resolve(s);
        });
        s.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
        s.once("close", () => {
          clearTimeout(timer);
          reject(
            Object.assign(new Error("the coordinator closed the connection during the TLS handshake (another job key?)"), {
              code: "ETLSCLOSED",
            }),
          );
        });
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
      const timer = setTimeout(
        () => {
          reject(this.failure(`not all ${hello.size} ranks joined within ${Math.round((deadline - Date.now() + 500) / 1000)} s`));
          this.socket.destroy();
        },
        Math.max(0, deadline - Date.now()),
      );
      this.pending = {
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
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
