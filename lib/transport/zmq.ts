/**
 * The ZeroMQ transport: one ROUTER socket bound per rank receives everything; a DEALER per peer,
 * connected on first use, sends to it (O(N) start-up, not O(N²)). Same-host ranks use `ipc://`
 * in the private job directory, others `tcp://`.
 *
 * Why DEALER→ROUTER rather than ROUTER↔ROUTER: a DEALER queues messages until its connection is
 * up, so nothing is dropped and no `EHOSTUNREACH` retry loop is needed, and each (sender, receiver)
 * pair has exactly one ordered pipe, which gives MPI's non-overtaking order per sender.
 * Back-pressure: ZeroMQ's high-water marks (`TSMPI_ZMQ_HWM` messages per connection, each way)
 * bound its pipes, so a receiver that does not read makes its senders' ZeroMQ sends wait;
 * zeromq.js allows one pending send per socket, so each DEALER has one send queue
 * ({@link Outbox}, `outbox.ts`), and once that holds more than `TSMPI_SEND_HWM` bytes, sends stop
 * completing at once (the `sent` callback of {@link Transport.send} waits). The unexpected-message
 * queue of a rank that receives (from anyone) is not bounded, as in MPI. Frames larger than `TSMPI_MAX_FRAME` are refused by
 * ZeroMQ before they are allocated.
 *
 * A peer that is gone: its BYE (see `p2p/protocol.ts`) drops what is queued for it. A send to a
 * peer that stopped reading stays pending in zeromq.js, which keeps the process alive; the
 * peer's {@link Outbox} then probes its endpoint and gives it up once it refuses connections
 * (see `outbox.ts`). While a send is stuck the receive loop runs, so a BYE is seen.
 * `close` waits at most its linger for queued messages, then drops them.
 *
 * The receive loop runs only while tsmpi waits for something (`hold`/`release`): a pending
 * zeromq.js receive keeps the process alive and cannot be cancelled, so an idle rank must not
 * have one, or a finished script would never exit. Messages that arrive meanwhile wait in
 * ZeroMQ's queue, in order. `poke` drains what has already arrived without waiting.
 *
 * Security: tcp:// endpoints (between hosts) use ZeroMQ CURVE with the job's keypair (see
 * `job/keys.ts`): encrypted, and only a peer holding the job's keys completes a handshake;
 * ipc:// endpoints (private job directory) stay plain.
 *
 * @module
 */
import { createRequire } from "node:module";
import type * as Zmq from "zeromq";
import { config } from "../config.js";
import { TsmpiError } from "../errors.js";
import { Outbox } from "./outbox.js";
import type { Transport } from "./transport.js";

/**
 * zeromq.js through `require`: importing its CommonJS entry as ESM makes Node scan the file
 * for export names first, which costs every rank ~10 ms at start-up.
 */
export function loadZmq(): typeof Zmq {
  return createRequire(import.meta.url)("zeromq") as typeof Zmq;
}

/** How long a receive waits before the loop re-checks whether anyone still needs it (ms). */
const RECEIVE_POLL_MS = 250;

/** Limits of a transport (see `config.ts`). */
export interface TransportOptions {
  /** Bytes queued per peer above which a send's `sent` callback waits. */
  sendHwm?: number;
  /** ZeroMQ's high-water mark, in messages, of each connection, each way (0: none). */
  zmqHwm?: number;
  /** The largest frame accepted; a peer sending a larger one is disconnected (-1: no limit). */
  maxFrame?: number;
  /**
   * The job's CURVE keypair: tcp:// endpoints serve and connect with it (encrypted and
   * authenticated); ipc:// ones stay plain. Absent: tcp:// in clear text too.
   */
  curve?: { publicKey: string; secretKey: string };
  /**
   * Milliseconds of silence after which a tcp:// connection counts as dead (ZMTP heartbeats,
   * `TSMPI_HEARTBEAT_TIMEOUT`): a peer whose host vanished sends no FIN, so without them its
   * connection would look alive forever. Absent or 0: no heartbeats.
   */
  heartbeatMs?: number;
}

/** ZMTP heartbeat options for a tcp:// endpoint: a ping every third of `ms` (at most 1 s), dead after `ms`. */
function heartbeats(
  endpoint: string,
  ms: number | undefined,
): Partial<Pick<Zmq.Router, "heartbeatInterval" | "heartbeatTimeout" | "heartbeatTimeToLive">> {
  if (!ms || !endpoint.startsWith("tcp://")) return {};
  return {
    heartbeatInterval: Math.max(100, Math.min(1000, Math.floor(ms / 3))),
    heartbeatTimeout: ms,
    heartbeatTimeToLive: Math.min(ms, 6_553_500),
  };
}

/**
 * Runs `fn` without zeromq.js's warning that an option set after a bind applies only to later
 * binds: that is what the caller wants.
 */
function quietly(fn: () => void): void {
  const warn = process.emitWarning;
  process.emitWarning = () => {};
  try {
    fn();
  } finally {
    process.emitWarning = warn;
  }
}

/** The ZeroMQ implementation of {@link Transport}. */
export class ZmqTransport implements Transport {
  private readonly outboxes: (Outbox | undefined)[] = [];
  onGone: ((dest: number) => void) | undefined;
  private peers: readonly string[] = [];
  private demand = 0;
  private draining = false;
  private looping = false;
  private closed = false;
  private timeoutSet = RECEIVE_POLL_MS;
  private pollMs = RECEIVE_POLL_MS;

  private constructor(
    private readonly zmq: typeof Zmq,
    readonly rank: number,
    private readonly router: Zmq.Router,
    /** The endpoints peers may connect to (one per bound address). */
    readonly endpoints: string[],
    private readonly onMessage: (frames: Buffer[]) => void,
    private readonly onError: (err: unknown) => void,
    private readonly options: TransportOptions,
  ) {}

  /**
   * Binds this rank's ROUTER to each of `bindAddresses` (`ipc://path`, `tcp://ip:*`) and
   * returns the transport; `endpoints` are the addresses peers may connect to.
   */
  static async bind(
    rank: number,
    bindAddresses: readonly string[],
    onMessage: (frames: Buffer[]) => void,
    onError: (err: unknown) => void,
    options: TransportOptions = {},
  ): Promise<ZmqTransport> {
    const zmq = loadZmq();
    const router = new zmq.Router({
      receiveHighWaterMark: options.zmqHwm ?? 0,
      maxMessageSize: options.maxFrame ?? -1,
      receiveTimeout: RECEIVE_POLL_MS,
      linger: 0,
    });
    const endpoints: string[] = [];
    for (const address of bindAddresses) {
      try {
        // Security options apply to the binds made after they are set: ipc:// plain, tcp:// CURVE.
        const curve = options.curve !== undefined && address.startsWith("tcp://");
        if (router.curveServer !== curve) {
          quietly(() => {
            router.curveServer = curve;
            if (curve) router.curveSecretKey = options.curve!.secretKey;
          });
        }
        if (address.startsWith("tcp://") && options.heartbeatMs)
          quietly(() => Object.assign(router, heartbeats(address, options.heartbeatMs)));
        await router.bind(address);
      } catch (err) {
        router.close();
        throw new TsmpiError("ERR_TSMPI_TRANSPORT", `rank ${rank} cannot bind ${address}: ${(err as Error).message}`, { cause: err });
      }
      endpoints.push(router.lastEndpoint ?? address);
    }
    return new ZmqTransport(zmq, rank, router, endpoints, onMessage, onError, options);
  }

  /**
   * Sets how long one receive waits before the loop looks whether anyone still needs it: also how
   * long a pending receive may keep the process alive after the last waiter left, when what it
   * waited for came another way (shared memory).
   */
  setReceivePoll(ms: number): void {
    this.pollMs = ms;
  }

  /** Sets every rank's endpoint (index = world rank); connections are made on first send. */
  setPeers(endpoints: readonly string[]): void {
    this.peers = endpoints;
  }

  send(dest: number, frames: Buffer[], sent?: () => void): void {
    if (this.closed) throw new TsmpiError("ERR_TSMPI_FINALIZED", `cannot send to rank ${dest}: the transport is closed`);
    const gone = this.gone.get(dest);
    if (gone !== undefined) {
      this.gone.set(dest, gone + 1); // never sent, never complete
      return;
    }
    (this.outboxes[dest] ?? this.connect(dest)).push(frames);
    // `sent` runs at once, unless the queue to dest is over its high-water mark: then once it
    // drained to half of it (receiving meanwhile, so two ranks flooding each other never wait
    // for each other).
    if (sent) this.whenRoom(dest, sent);
  }

  private connect(dest: number): Outbox {
    const endpoint = this.peers[dest];
    if (endpoint === undefined) throw new TsmpiError("ERR_TSMPI_INTERNAL", `no endpoint known for rank ${dest}`);
    const curve =
      this.options.curve && endpoint.startsWith("tcp://")
        ? {
            curveServerKey: this.options.curve.publicKey,
            curvePublicKey: this.options.curve.publicKey,
            curveSecretKey: this.options.curve.secretKey,
          }
        : {};
    const socket = new this.zmq.Dealer({
      sendHighWaterMark: this.options.zmqHwm ?? 0,
      reconnectInterval: 20,
      linger: 0,
      ...curve,
      ...heartbeats(endpoint, this.options.heartbeatMs),
    });
    socket.connect(endpoint);
    const box = new Outbox(
      socket,
      (err) => this.fail(err, `sending to rank ${dest} (${endpoint})`),
      this.options.sendHwm,
      (stalled) => (stalled ? this.hold() : this.release()),
      () => {
        this.abandon(dest);
        this.onGone?.(dest);
      },
      endpoint,
    );
    this.outboxes[dest] = box;
    return box;
  }

  /** Runs `fn` once the queue to `dest` has room (see {@link Outbox.full}), receiving meanwhile. */
  private whenRoom(dest: number, fn: () => void): void {
    const box = this.outboxes[dest];
    if (!box?.full) {
      fn();
      return;
    }
    this.hold();
    box.whenBelow(
      () => {
        this.release();
        fn();
      },
      () => this.release(),
    );
  }

  abandon(dest: number): void {
    if (this.gone.has(dest)) return;
    this.gone.set(dest, 0);
    this.outboxes[dest]?.abandon();
  }

  /** Peers given up ({@link abandon}), with the messages sent to them since. */
  private readonly gone = new Map<number, number>();

  undelivered(): Map<number, number> {
    const out = new Map<number, number>();
    this.outboxes.forEach((box, dest) => {
      const n = (box?.lost ?? 0) + (box?.pending ?? 0);
      if (n > 0) out.set(dest, n);
    });
    for (const [dest, n] of this.gone) if (n > 0) out.set(dest, (out.get(dest) ?? 0) + n);
    return out;
  }

  drain(timeoutMs: number): Promise<void> {
    if (this.closed || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.drainWaiters.push(done);
      this.poke();
    });
  }

  /** Called once a drain ({@link poke}) found nothing more to take in. */
  private drainWaiters: (() => void)[] = [];

  copiesBorrowed(): boolean {
    return false;
  }

  hold(): void {
    // Started in a microtask, so a hold released in the same tick (a receive matched at once)
    // never leaves a pending zeromq receive behind.
    if (++this.demand === 1) this.startLoop();
  }

  release(): void {
    this.demand--;
  }

  poke(): void {
    this.draining = true;
    this.startLoop();
  }

  private startLoop(): void {
    if (this.looping) return;
    this.looping = true;
    queueMicrotask(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while ((this.demand > 0 || this.draining) && !this.closed) {
        const timeout = this.demand > 0 ? this.pollMs : 0;
        if (timeout !== this.timeoutSet) this.router.receiveTimeout = this.timeoutSet = timeout;
        let frames: Buffer[];
        try {
          frames = await this.router.receive();
        } catch (err) {
          if ((err as { code?: string }).code === "EAGAIN") {
            if (this.draining) for (const fn of this.drainWaiters.splice(0)) fn();
            this.draining = false;
            continue;
          }
          if (!this.closed) this.fail(err, "receiving");
          return;
        }
        frames.shift(); // the routing id ROUTER prepends
        try {
          this.onMessage(frames);
        } catch (err) {
          // A bug in the handler, not bad input (that is dropped there): end the rank with it.
          this.fail(err, "handling a message");
          return;
        }
      }
    } finally {
      this.looping = false;
    }
  }

  private fail(err: unknown, what: string): void {
    if (this.closed) return;
    this.onError(
      new TsmpiError("ERR_TSMPI_TRANSPORT", `rank ${this.rank}: transport error while ${what}: ${(err as Error).message}`, { cause: err }),
    );
  }

  progress(): number {
    let n = 0;
    for (const box of this.outboxes) n += box?.handed ?? 0;
    return n;
  }

  async close(lingerMs: number, giveUp?: Promise<void>): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + lingerMs;
    if (lingerMs > 0) {
      // Receive meanwhile: a BYE from a peer that is gone drops what waits for it.
      this.hold();
      let timer: NodeJS.Timeout | undefined;
      const waits: Promise<unknown>[] = [Promise.all(this.outboxes.map((box) => box?.flush()))];
      if (Number.isFinite(lingerMs)) waits.push(new Promise((resolve) => (timer = setTimeout(resolve, lingerMs))));
      if (giveUp) waits.push(giveUp);
      await Promise.race(waits);
      clearTimeout(timer);
      this.release();
    }
    this.closed = true;
    // What ZeroMQ holds still has the (rest of the) linger to leave; what never reached it is dropped.
    const rest = Number.isFinite(lingerMs) ? Math.max(0, deadline - Date.now()) : config().lingerMs;
    for (const box of this.outboxes) box?.close(rest);
    this.router.close();
    for (const fn of this.drainWaiters.splice(0)) fn();
  }
}
