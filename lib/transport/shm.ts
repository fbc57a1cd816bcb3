/**
 * The shared-memory transport between ranks of one host (as Open MPI's `vader`): each rank owns an
 * inbox, one byte ring per sender in a memfd, and a wake-up pipe (`native/shm_channel.cc`). A
 * message is written straight into the receiver's ring and read straight out of it: no socket,
 * no I/O thread, no system call while the receiver polls.
 *
 * Waiting: while something waits for a message ({@link ShmTransport.hold}), the transport polls
 * the rings for the window of its {@link WaitPolicy} (in a `setImmediate` callback, so promise
 * continuations of delivered messages run first), then arms its wake-up word and sleeps on the
 * pipe, which the event loop watches: a sender that finds the word armed writes one byte, and the
 * rank wakes in one hop. While nothing waits, the pipe is unreferenced (an idle rank's script can
 * still finish) but still watched, so messages that arrive meanwhile are taken out of the ring
 * into the matching engine, as ZeroMQ's I/O thread would.
 *
 * Flow control: a ring holds a bounded number of bytes. A message that does not fit waits in the
 * sender's queue for that peer (order kept) and streams in as the receiver drains the ring; the
 * receiver wakes the sender when it freed space. Nothing is dropped, memory stays bounded by the
 * rings plus what the sender's caller holds.
 *
 * Endpoints are `shm://<pid>/<memfd>/<wake fd>`; peers open both through `/proc/<pid>/fd/`, which
 * the kernel allows only to processes of the same user that may ptrace-read the owner. Nothing
 * is named in `/dev/shm` or on disk, so nothing is left behind after any ending.
 *
 * Not supported yet: ranks in different pid namespaces on one host (they use ZeroMQ's `ipc://`).
 *
 * @module
 */
import net from "node:net";
import { config, numberSetting } from "../config.js";
import { TsmpiError } from "../errors.js";
import type { NativeBinding, NativeShmChannel } from "../native.js";
import type { WaitPolicy } from "./polling.js";
import type { Transport } from "./transport.js";

/** Most messages handed to the matching engine per event-loop turn (others wait their turn). */
const BUDGET = 256;

/**
 * How fast a peer is assumed to read a payload lent to it (bytes per microsecond): 2 GB/s, a
 * fraction of what `process_vm_readv` reaches here (7-13 GB/s), so the extra polling covers the
 * read on a slower or busier machine too.
 */
const LEND_READ_BYTES_PER_US = 2000;

/** The most a lent payload extends polling (microseconds); beyond, sleeping costs little in comparison. */
const LEND_POLL_MAX_US = 2000;

/** The ring size per sender for a host with `ranksHere` ranks: 1 MiB, less for many ranks (≥ 64 KiB). */
export function ringBytes(ranksHere: number, env: NodeJS.ProcessEnv = process.env): number {
  const n = numberSetting("TSMPI_SHM_RING_BYTES", env);
  if (n !== undefined) return n;
  const share = Math.floor((32 * 2 ** 20) / Math.max(1, ranksHere - 1) / 4096) * 4096;
  return Math.min(2 ** 20, Math.max(64 * 1024, share));
}

/**
 * The longest message a peer may write into this rank's ring: two frames (header, payload) of at
 * most `TSMPI_MAX_FRAME` each and their lengths, as the point-to-point layer sends them. A
 * longer one is a corrupt ring, and a message that never completes holds at most this much.
 */
export function maxRecord(): number {
  return 4 + 2 * 4 + 2 * config().maxFrame;
}

/** A message (or its rest) waiting for room in a peer's ring. */
interface Queued {
  frames: Buffer[];
  total: number;
  offset: number;
  sent: (() => void) | undefined;
}

/** The logical length of a message in the ring: count, lengths, bytes. */
function recordLength(frames: readonly Buffer[]): number {
  let n = 4 + 4 * frames.length;
  for (const f of frames) n += f.byteLength;
  return n;
}

/** Copies of borrowed frames (the first, the header, is the transport's already). */
function keep(frames: Buffer[]): Buffer[] {
  return frames.map((f, i) => (i === 0 ? f : Buffer.from(f)));
}

/** Parsed `shm://pid/memfd/wake`. */
export function parseShmEndpoint(endpoint: string): { pid: number; memfd: number; wake: number } | undefined {
  const m = /^shm:\/\/(\d+)\/(\d+)\/(\d+)$/.exec(endpoint);
  return m ? { pid: Number(m[1]), memfd: Number(m[2]), wake: Number(m[3]) } : undefined;
}

/** The shared-memory implementation of {@link Transport}, for the peers it was connected to. */
export class ShmTransport implements Transport {
  private readonly queues = new Map<number, Queued[]>();
  private queued = 0;
  private demand = 0;
  private scheduled = false;
  private closed = false;
  /** A fatal error was reported (once: the rank is ending). */
  private failed = false;
  private referenced = false;
  /** No peer can write here ({@link unused}): waits leave the inbox alone. */
  private idle = false;
  /** Until when (performance.now() ms) a wait keeps polling for the ack of a lent payload. */
  private pollUntil = 0;
  private readonly wake: net.Socket;
  private drained: (() => void) | undefined;
  /** The endpoint peers connect to. */
  readonly endpoint: string;

  private constructor(
    private readonly channel: NativeShmChannel,
    readonly rank: number,
    private policy: WaitPolicy,
    private readonly onMessage: (frames: Buffer[]) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.endpoint = `shm://${process.pid}/${channel.memfd}/${channel.wakeWrite}`;
    this.wake = new net.Socket({ fd: channel.takeWakeRead(), readable: true, writable: false });
    this.wake.on("data", this.onWake);
    this.wake.on("error", (err) => this.fail(err, "watching the wake-up pipe"));
    this.wake.unref();
    channel.arm();
  }

  /**
   * Makes this rank's inbox (world rank `rank` of `size`, sized for `ranksHere` ranks on this
   * host). Throws `ERR_TSMPI_TRANSPORT` when the system refuses (no memfd, no memory).
   */
  static create(
    binding: NativeBinding,
    rank: number,
    size: number,
    ranksHere: number,
    policy: WaitPolicy,
    onMessage: (frames: Buffer[]) => void,
    onError: (err: unknown) => void,
  ): ShmTransport {
    let channel: NativeShmChannel;
    try {
      channel = new binding.ShmChannel(size, rank, ringBytes(ranksHere), maxRecord());
    } catch (err) {
      throw new TsmpiError("ERR_TSMPI_TRANSPORT", `rank ${rank} cannot make its shared-memory inbox: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new ShmTransport(channel, rank, policy, onMessage, onError);
  }

  /** The polling window and mode in use. */
  get waitPolicy(): WaitPolicy {
    return this.policy;
  }

  /** Sets the wait policy (once the ranks on this host and the paths to them are known). */
  setWaitPolicy(policy: WaitPolicy): void {
    this.policy = policy;
  }

  /**
   * Connects to world rank `dest`'s inbox at `endpoint`; false (with the reason in `why`) when it
   * cannot be opened, and that peer is then reached another way.
   */
  connect(dest: number, endpoint: string): { ok: true } | { ok: false; why: string } {
    const e = parseShmEndpoint(endpoint);
    if (!e) return { ok: false, why: `not a shared-memory endpoint: ${endpoint}` };
    // Whatever happens next, `dest` may write here (it may even have done so and exited).
    this.channel.watch(dest);
    try {
      this.channel.connect(dest, e.pid, e.memfd, e.wake);
      return { ok: true };
    } catch (err) {
      return { ok: false, why: (err as Error).message };
    }
  }

  send(dest: number, frames: Buffer[], sent?: () => void, borrowed = false): void {
    if (this.closed) throw new TsmpiError("ERR_TSMPI_FINALIZED", `cannot send to rank ${dest}: the transport is closed`);
    if (this.gone.has(dest)) {
      this.count(dest, 1); // never sent, never complete
      return;
    }
    const queue = this.queues.get(dest);
    const total = recordLength(frames);
    if (queue && queue.length > 0) {
      queue.push({ frames: borrowed ? keep(frames) : frames, total, offset: 0, sent });
      this.queued++;
      return;
    }
    const offset = this.write(dest, frames, 0);
    if (offset === total) {
      sent?.();
      return;
    }
    if (borrowed) frames = keep(frames);
    // The ring is full: the rest goes in as the receiver drains it (it wakes us).
    if (queue) queue.push({ frames, total, offset, sent });
    else this.queues.set(dest, [{ frames, total, offset, sent }]);
    this.queued++;
    this.reference();
  }

  /** Writes queued messages on as far as the rings have room; true when none is left. */
  private flushQueues(): boolean {
    if (this.queued === 0) return true;
    for (const [dest, queue] of this.queues) {
      while (queue.length > 0) {
        const q = queue[0]!;
        const before = q.offset;
        q.offset = this.write(dest, q.frames, q.offset);
        if (q.offset > before) this.handed++;
        if (q.offset < q.total) break;
        queue.shift();
        this.queued--;
        q.sent?.();
      }
      if (queue.length === 0) this.queues.delete(dest);
    }
    if (this.queued > 0) return false;
    this.drained?.();
    this.drained = undefined;
    this.reference();
    return true;
  }

  /** Writes what fits; a corrupt peer inbox (`ERR_TSMPI_TRANSPORT`) ends this rank, and is thrown to the caller too. */
  private write(dest: number, frames: Buffer[], offset: number): number {
    try {
      return this.channel.send(dest, frames, offset);
    } catch (err) {
      if ((err as { code?: unknown }).code === "ERR_TSMPI_TRANSPORT") this.fail(err, `sending to rank ${dest}`);
      throw err;
    }
  }

  copiesBorrowed(): boolean {
    return true;
  }

  /**
   * Every peer is connected: look at the rings once more. A peer may have written (and woken this
   * rank) before this rank connected its ring, when the ring was not yet among those it reads.
   */
  connected(): void {
    this.schedule();
  }

  /**
   * No peer can write into this inbox (none is on this host): waits no longer poll it or keep
   * the process alive for it. Sending is unaffected (there is nobody to send to this way).
   */
  unused(): void {
    this.idle = true;
    this.reference();
  }

  /**
   * A same-host peer reads `bytes` lent to it, then acks: a wait polls on, one window at a time
   * with the event loop running between, until about when the read should be done, instead of
   * sleeping after one window and paying a wake-up (1 MiB ping-pong: 126 -> 84 us one way).
   */
  lending(bytes: number): void {
    if (this.policy.spinUs === 0) return;
    const until = performance.now() + (this.policy.spinUs + Math.min(LEND_POLL_MAX_US, bytes / LEND_READ_BYTES_PER_US)) / 1000;
    if (until > this.pollUntil) this.pollUntil = until;
  }

  hold(): void {
    if (++this.demand === 1) this.reference();
    this.schedule();
  }

  release(): void {
    if (--this.demand === 0) this.reference();
  }

  poke(): void {
    if (this.closed || this.idle) return;
    let got: Buffer[][];
    try {
      got = this.channel.receive(0, false, BUDGET);
    } catch (err) {
      this.fail(err, "receiving");
      return;
    }
    this.deliver(got);
  }

  /** Keeps the process alive (references the pipe) exactly while something waits or is queued. */
  private reference(): void {
    const want = (this.demand > 0 || this.queued > 0) && !this.closed && !this.idle;
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.wake.ref();
    else this.wake.unref();
  }

  private schedule(): void {
    if (this.scheduled || this.closed || this.idle) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  private readonly onWake = (): void => {
    if (this.scheduled) return; // a pump is due anyway
    this.pump();
  };

  /**
   * Takes what has arrived (polling for the window first when something waits), writes queued
   * messages on, and arms the wake-up word before the event loop sleeps.
   */
  private readonly pump = (): void => {
    this.scheduled = false;
    if (this.closed) return;
    try {
      this.flushQueues();
      const got = this.channel.receive(this.demand > 0 ? this.policy.spinUs : 0, this.policy.mode === "yield", BUDGET);
      if (got.length > 0) {
        this.deliver(got);
        this.schedule(); // more may follow; look again after the continuations ran
      } else if (this.demand > 0 && performance.now() < this.pollUntil) {
        this.schedule(); // a peer is reading what this rank lent: its ack is near
      } else if (!this.channel.arm()) {
        this.schedule(); // something arrived while arming
      }
    } catch (err) {
      this.fail(err, "receiving");
    }
  };

  private deliver(messages: Buffer[][]): void {
    for (const frames of messages) this.onMessage(frames);
  }

  private fail(err: unknown, what: string): void {
    if (this.closed || this.failed) return;
    this.failed = true;
    this.onError(
      new TsmpiError(
        "ERR_TSMPI_TRANSPORT",
        `rank ${this.rank}: shared-memory transport error (ERR_TSMPI_TRANSPORT) while ${what}: ${(err as Error).message}`,
        { cause: err },
      ),
    );
  }

  /**
   * Waits (at most `lingerMs`, which may be Infinity, or until `giveUp` resolves) until every
   * queued message is in its ring, then closes; what is still queued then is dropped (see
   * {@link undelivered}).
   */
  async close(lingerMs: number, giveUp?: Promise<void>): Promise<void> {
    if (this.closed) return;
    if (!this.flushQueues() && lingerMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        if (Number.isFinite(lingerMs)) timer = setTimeout(resolve, lingerMs);
        void giveUp?.then(resolve);
      });
      clearTimeout(timer);
      this.drained = undefined;
    }
    for (const [dest, queue] of this.queues) this.count(dest, queue.length);
    this.queues.clear();
    this.queued = 0;
    this.closed = true;
    this.reference();
    this.wake.destroy();
    this.channel.close();
  }

  /** Peers given up ({@link abandon}). */
  private readonly gone = new Set<number>();
  /** Queued messages (or parts) written into rings so far. */
  private handed = 0;
  /** Messages per peer dropped: queued for a peer given up, or still queued when the linger ran out. */
  private readonly lost = new Map<number, number>();

  private count(dest: number, n: number): void {
    if (n > 0) this.lost.set(dest, (this.lost.get(dest) ?? 0) + n);
  }

  /** World rank `dest` finished or is gone: what is queued for it, and what is sent to it from now on, is dropped. */
  abandon(dest: number): void {
    if (this.gone.has(dest)) return;
    this.gone.add(dest);
    const queue = this.queues.get(dest);
    if (queue) {
      this.count(dest, queue.length);
      this.queued -= queue.length;
      this.queues.delete(dest);
    }
    if (this.queued === 0) {
      this.drained?.();
      this.drained = undefined;
    }
    this.reference();
  }

  /** Grows whenever a queued message (or part of one) went into its ring. */
  progress(): number {
    return this.handed;
  }

  /** Messages per peer never written into its ring (dropped, or still queued). */
  undelivered(): Map<number, number> {
    const out = new Map(this.lost);
    for (const [dest, queue] of this.queues) out.set(dest, (out.get(dest) ?? 0) + queue.length);
    return out;
  }

  /** Takes in what the rings hold now. */
  async drain(): Promise<void> {
    this.poke();
  }
}
