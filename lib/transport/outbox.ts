/**
 * One ZeroMQ DEALER's send queue ({@link Outbox}), for `zmq.ts`: zeromq.js accepts one pending
 * `send` per socket, so messages to a peer wait here, in order, and are handed to ZeroMQ one at
 * a time. The queue counts its bytes against `TSMPI_SEND_HWM` (a send's `sent` callback waits
 * while it is full).
 *
 * A send stuck in zeromq.js (the peer stopped reading) keeps the process alive: while one is
 * stuck (past {@link STALL_PROBE_MS}) the peer's endpoint is probed with a plain connection now
 * and then, and a peer whose endpoint refuses connections (its ROUTER closed without a BYE
 * reaching this rank) for `TSMPI_LINGER_MS` is given up like one that said BYE. (Not with a
 * ZeroMQ monitor on the socket: setting one up takes the socket's pending wake-up, and the stuck
 * send then never completes.)
 *
 * @module
 */
import net from "node:net";
import type * as Zmq from "zeromq";
import { config } from "../config.js";

/** A send stuck this long (ms) has its peer's endpoint probed (see the module comment). */
const STALL_PROBE_MS = 100;

/**
 * Whether something accepts connections at a ZeroMQ `endpoint` (ipc:// or tcp://): false when
 * the connection is refused (or the socket file is gone), true otherwise (also when it cannot
 * tell, as on a timeout).
 */
function listening(endpoint: string): Promise<boolean> {
  const m = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint);
  const where = endpoint.startsWith("ipc://") ? { path: endpoint.slice(6) } : m ? { host: m[1]!, port: Number(m[2]) } : undefined;
  if (!where) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = net.connect(where);
    socket.unref();
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "ECONNREFUSED" && err.code !== "ENOENT"));
  });
}

/**
 * One socket's send queue: zeromq.js accepts one pending `send` per socket. It counts the bytes
 * not yet handed to ZeroMQ; above `hwm` the queue is {@link full}, and {@link whenBelow}
 * waiters run once it fell to half of that (ZeroMQ's own pipe is bounded by its high-water mark
 * in messages, so a send to a slow receiver waits there, and this queue fills).
 */
export class Outbox {
  private readonly queue: Buffer[][] = [];
  private head = 0;
  private busy = false;
  private drained: (() => void) | undefined;
  /** Bytes of the queued messages and of the one being handed to ZeroMQ. */
  private bytes = 0;
  private inFlightBytes = 0;
  private roomWaiters: { fn: () => void; dropped: () => void }[] = [];
  /** Given up ({@link abandon}): everything pushed is dropped. */
  private dead = false;
  /** Messages dropped here (abandoned). */
  lost = 0;
  /** Messages handed to ZeroMQ so far. */
  handed = 0;
  /** Sends started so far (a check sees from it whether the pending one moved). */
  private sends = 0;
  private checking = false;
  private stalled = false;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Since when (Date.now()) the peer's endpoint refuses connections (0: it did not). */
  private refusedSince = 0;

  constructor(
    readonly socket: Zmq.Dealer,
    private readonly onError: (err: unknown) => void,
    private readonly hwm = Infinity,
    /** A send is stuck (true) or moves again (false). */
    private readonly onStall: (stalled: boolean) => void = () => {},
    /** The peer's endpoint refused connections for the linger time while a send was stuck: it is gone. */
    private readonly onGone: () => void = () => {},
    /** The peer's endpoint (probed while a send is stuck). */
    private readonly endpoint?: string,
  ) {}

  push(frames: Buffer[]): void {
    if (this.dead) {
      this.lost++;
      return;
    }
    this.bytes += frameBytes(frames);
    if (this.busy) this.queue.push(frames);
    else this.start(frames);
  }

  /** Messages queued and not yet handed to ZeroMQ (counting the one being handed). */
  get pending(): number {
    return this.queue.length - this.head + (this.busy ? 1 : 0);
  }

  /** More than the high-water mark is queued. */
  get full(): boolean {
    return this.bytes > this.hwm;
  }

  /**
   * Runs `fn` once no more than half the high-water mark is queued (at once if so), or
   * `dropped` instead if the queue is given up first.
   */
  whenBelow(fn: () => void, dropped: () => void): void {
    if (this.bytes <= this.hwm / 2) fn();
    else this.roomWaiters.push({ fn, dropped });
  }

  /** Resolves once every queued message was handed to ZeroMQ (or the queue was given up). */
  flush(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /**
   * Gives the queue up: what waits is dropped (counted in {@link lost}), the socket is closed
   * at once (the send zeromq.js still holds cannot be cancelled otherwise), and later pushes
   * are dropped.
   */
  abandon(): void {
    if (this.dead) return;
    this.dead = true;
    this.lost += this.pending;
    this.queue.length = this.head = 0;
    this.bytes = 0;
    this.unstall();
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w.dropped();
    this.busy = false;
    this.socket.linger = 0;
    this.socket.close();
    this.drained?.();
    this.drained = undefined;
  }

  /** Closes the socket: with `lingerMs` for what ZeroMQ holds; what waits here is dropped. */
  close(lingerMs: number): void {
    this.unstall();
    if (this.dead) return;
    this.lost += this.pending;
    this.dead = true;
    this.socket.linger = this.busy ? 0 : lingerMs;
    this.socket.close();
  }

  private start(frames: Buffer[]): void {
    this.busy = true;
    this.inFlightBytes = frameBytes(frames);
    this.sends++;
    this.socket.send(frames).then(this.next, (err) => {
      if (this.dead) return; // closed on purpose
      this.busy = false;
      this.onError(err);
    });
    if (!this.checking) this.check(this.sends);
  }

  /**
   * Looks, each event-loop turn while sends are queued, whether the one being handed to ZeroMQ
   * is still the same: then ZeroMQ's pipe is full (a send with room completes at once).
   */
  private check(sends: number): void {
    this.checking = true;
    setImmediate(() => {
      this.checking = false;
      if (!this.busy || this.dead) return;
      if (this.sends === sends) this.stall();
      else this.check(this.sends);
    }).unref();
  }

  /** A send is stuck: receive meanwhile (a BYE may come), and watch the connection if it lasts. */
  private stall(): void {
    if (this.stalled) return;
    this.stalled = true;
    this.onStall(true);
    if (this.endpoint) this.probeTimer = setTimeout(this.probe, STALL_PROBE_MS).unref();
  }

  private unstall(): void {
    if (!this.stalled) return;
    this.stalled = false;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.refusedSince = 0;
    this.onStall(false);
  }

  /**
   * Probes the peer's endpoint while a send stays stuck: refusing connections for the linger
   * time means the peer's socket is closed for good.
   */
  private readonly probe = (): void => {
    this.probeTimer = undefined;
    void listening(this.endpoint!).then((alive) => {
      if (!this.stalled || this.dead) return;
      const linger = config().lingerMs;
      if (alive) this.refusedSince = 0;
      else if (this.refusedSince === 0) this.refusedSince = Date.now();
      if (this.refusedSince > 0 && Date.now() - this.refusedSince >= linger) return this.onGone();
      this.probeTimer = setTimeout(this.probe, Math.max(20, Math.min(500, linger / 4))).unref();
    });
  };

  private readonly next = (): void => {
    if (this.dead) return;
    this.handed++;
    this.bytes -= this.inFlightBytes;
    if (this.stalled) this.unstall();
    if (this.roomWaiters.length > 0 && this.bytes <= this.hwm / 2) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w.fn();
    }
    if (this.head < this.queue.length) {
      const frames = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.start(frames);
    } else {
      this.busy = false;
      this.queue.length = this.head = 0;
      this.drained?.();
      this.drained = undefined;
    }
  };
}

/**
 * What a queued message costs beyond its bytes (the Buffer objects, the queue slot), counted
 * against the high-water mark so that a flood of tiny messages is bounded too.
 */
const MESSAGE_OVERHEAD = 256;

function frameBytes(frames: readonly Buffer[]): number {
  let n = MESSAGE_OVERHEAD;
  for (const f of frames) n += f.byteLength;
  return n;
}
